/// Decides which of the service's docker objects belong to no deployment.
///
/// An image is untagged for a moment at the end of every build (committed, not yet tagged), and
/// such an image names no deployment: while a create may be building, untagged images are left
/// for a later sweep, or the sweep removes a build's result under it (seen in CI: "failed to get
/// digest … no such file or directory").
enum OrphanSelection {
    /// - Parameters:
    ///   - listed: the objects carrying the service's label.
    ///   - known: docker names of deployments with a record, read *after* the listing (a create
    ///     records its deployment before making any object, so nothing listed is newer).
    ///   - buildsMayRun: whether a create was under way at any time during the listing.
    static func orphans(of listed: [ServiceDocker.Object], known: Set<String>, buildsMayRun: Bool) -> [ServiceDocker.Object] {
        listed.filter { object in
            if object.kind == "image", object.deployment.isEmpty { return !buildsMayRun }
            return !known.contains(object.deployment)
        }
    }
}
