import HTTPTypes
import Prometheus
import Foundation
import Logging
import MCPBridge
import SandboxBuilder

/// Owns every deployment: its record (memory and SQLite), its docker objects and its timers.
/// Every change is written to the state database before the docker work it announces, and
/// every docker object carries the service's label, so a restart after a kill -9 can finish or
/// undo whatever was under way (`reconcile`).
actor DeploymentManager {
    let configuration: ServiceConfiguration
    let store: StateStore
    let docker: ServiceDocker
    let metrics: ServiceMetrics
    let logger: Logger
    private let gate: OperationGate
    private let health = BridgeHealth()

    private var records: [String: DeploymentRecord] = [:]
    /// Front-door requests under way per deployment (an open SSE stream counts): never idle.
    private var inFlight: [String: Int] = [:]
    /// Deployments with a create, stop, start or delete under way.
    private var busy: Set<String> = []
    private var wakes: [String: Task<Int, any Error>] = [:]
    private var persistedActivity: [String: Date] = [:]
    private var background: [UUID: Task<Void, Never>] = [:]
    /// Creates under way (record made, build not finished) and how many ever started: a garbage
    /// sweep that overlapped one leaves untagged images alone (`OrphanSelection`).
    private var createsUnderWay = 0
    private var createsStarted = 0

    init(configuration: ServiceConfiguration, store: StateStore, serviceID: String, metrics: ServiceMetrics, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.docker = ServiceDocker(serviceID: serviceID)
        self.metrics = metrics
        self.logger = logger
        self.gate = OperationGate(permits: configuration.concurrentOperations)
    }

    var buildsDirectory: URL { configuration.stateDirectory.appendingPathComponent("builds") }

    // MARK: Reading

    func all(state: DeploymentRecord.State?, prefix: String?) -> [DeploymentRecord] {
        records.values.filter { record in
            (state == nil || record.state == state) && (prefix.map { record.name.hasPrefix($0) } ?? true)
        }.sorted { $0.name < $1.name }
    }

    func record(_ name: String) throws -> DeploymentRecord {
        guard let record = records[name] else { throw Problem.notFound(name) }
        return record
    }

    var count: Int { records.count }

    // MARK: Create

    func create(_ request: DeploymentRequest, token: String) async throws -> DeploymentRecord {
        guard records[request.name] == nil else {
            throw Problem.conflict("a deployment named '\(request.name)' exists; delete it first or choose another name")
        }
        guard records.count < configuration.maxDeployments else {
            throw Problem(status: .conflict, kind: "limit-reached", title: "Too many deployments",
                          detail: "this service runs at most \(configuration.maxDeployments) deployments (--max-deployments); delete one first")
        }
        let spec = request.spec
        if let capacity = await docker.client.hostCapacity() {
            var problems: [Problem.FieldError] = []
            if let cpus = Double(spec.cpus), cpus > Double(capacity.cpus) || cpus <= 0 {
                problems.append(.init(field: DeploymentRequest.field(of: "MCP_CPUS", source: request.source),
                                      detail: "\(spec.cpus) CPUs asked, but this Docker host has \(capacity.cpus); give more than 0 and at most \(capacity.cpus)"))
            }
            if spec.memoryBytes > capacity.memory {
                problems.append(.init(field: DeploymentRequest.field(of: "MCP_MEMORY", source: request.source),
                                      detail: "\(spec.memory) asked, but this Docker host has \(capacity.memory >> 20) MiB; give at most \(capacity.memory >> 20)m"))
            }
            if spec.memoryBytes < 6 << 20 {
                problems.append(.init(field: DeploymentRequest.field(of: "MCP_MEMORY", source: request.source),
                                      detail: "\(spec.memory) is below docker's minimum of 6 MiB; give at least 32m"))
            }
            if !problems.isEmpty { throw Problem.invalid(problems) }
        }
        if !configuration.pullMissingImages {
            if !(await docker.client.succeeds(["docker", "image", "inspect", spec.baseImage])) {
                throw Problem.invalid([.init(field: DeploymentRequest.field(of: "MCP_BASE_IMAGE", source: request.source),
                                             detail: "\(spec.baseImage) is not on this Docker host and the service runs with --pull never; docker pull (or load) it first")])
            }
            // Without --bridge-binary the bridge is compiled in the Swift image, which must be here too.
            if configuration.bridgeBinary == nil, !(await docker.client.succeeds(["docker", "image", "inspect", DockerfileRenderer.swiftImage])) {
                throw Problem(status: .serviceUnavailable, kind: "no-bridge", title: "The service cannot add the bridge",
                              detail: "no --bridge-binary was given, so the bridge would be compiled in \(DockerfileRenderer.swiftImage), which is not on this host (--pull never); restart the service with --bridge-binary (scripts/build-release makes one)")
            }
        }
        guard records[request.name] == nil, records.count < configuration.maxDeployments else {
            throw Problem.conflict("'\(request.name)' was created by another request meanwhile, or the limit was reached")
        }
        let record = DeploymentRecord(
            name: request.name, dockerName: spec.name, state: .creating, phase: "queued", message: nil,
            source: request.source, imageTag: spec.imageTag, sourceImage: request.source == .image ? spec.baseImage : nil,
            runtime: nil, tokenHash: SecretHash.digest(token), createdAt: Date(), lastActivityAt: nil,
            timers: request.timers, memory: spec.memory, cpus: spec.cpus, pids: spec.pids)
        records[record.name] = record
        busy.insert(record.name)
        createsUnderWay += 1
        createsStarted += 1
        do {
            try await store.save(record)
        } catch {
            records[record.name] = nil
            busy.remove(record.name)
            createsUnderWay -= 1
            throw error
        }
        refreshGauges()
        logger.info("creating deployment", metadata: ["deployment": "\(record.name)", "source": "\(record.source.rawValue)"])
        spawn { await self.build(record.name, spec: spec) }
        return record
    }

    /// Builds the image and starts the containers; on failure removes every object it made and
    /// keeps the record as `failed` with the reason.
    private func build(_ name: String, spec: DeploymentSpec) async {
        let context = buildsDirectory.appendingPathComponent(spec.name)
        defer { try? FileManager.default.removeItem(at: context) }
        do {
            try await gate.run {
                guard await self.isWanted(name) else { return }
                await self.update(name, phase: "building image", message: nil)
                let build = BuildContext(directory: context, spec: spec, sourceRoot: self.configuration.sourceRoot,
                                         bridgeBinary: self.configuration.bridgeBinary, wheelhouse: self.configuration.wheelhouse)
                do {
                    try build.write()
                } catch {
                    throw Problem.invalid([.init(field: "image", detail: "\(error)")])
                }
                let commands = DockerCommands(spec: spec)
                try await self.docker.build(commands, context: context) { line in await self.update(name, message: line) }
                guard await self.isWanted(name) else { return }
                await self.update(name, phase: "starting containers", message: nil)
                let gVisor = try await RuntimeChoice.useGVisor(spec.containerRuntime, needsHostSockets: spec.usesIngressRelay, client: self.docker.client)
                await self.update(name, runtime: gVisor ? "runsc" : "runc")
                try await self.docker.launch(commands, useGVisor: gVisor)
                await self.update(name, phase: "waiting for the bridge", message: nil)
                let port = try await self.waitUntilHealthy(name)
                await self.finishCreate(name, port: port)
            }
        } catch {
            metrics.operationsFailed.increment()
            let reason = (error as? Problem)?.detail ?? "\(error)"
            logger.warning("create failed", metadata: ["deployment": "\(name)", "reason": "\(reason.prefix(500))"])
            let left = await docker.removeAll(deployment: spec.name)
            await finishFailedCreate(name, reason: reason, left: left)
        }
        busy.remove(name)
        createsUnderWay -= 1
        if records[name]?.state == .deleting { spawn { await self.remove(name) } }
    }

    private func isWanted(_ name: String) -> Bool { records[name]?.state == .creating }

    private func update(_ name: String, phase: String? = nil, message: String?) {
        guard var record = records[name] else { return }
        if let phase { record.phase = phase }
        record.message = message
        records[name] = record
    }

    private func update(_ name: String, runtime: String) {
        records[name]?.runtime = runtime
    }

    private func finishCreate(_ name: String, port: Int) async {
        guard var record = records[name], record.state == .creating else { return }
        record.state = .running
        record.phase = nil
        record.message = nil
        record.port = port
        record.lastActivityAt = Date()
        await save(record)
        logger.info("deployment running", metadata: ["deployment": "\(name)", "port": "\(port)"])
    }

    private func finishFailedCreate(_ name: String, reason: String, left: [String]) async {
        guard var record = records[name], record.state == .creating else { return }
        record.state = .failed
        record.phase = nil
        record.message = String(reason.prefix(4000)) + (left.isEmpty ? "" : " (could not remove: \(left.joined(separator: ", ")))")
        record.port = nil
        await save(record)
    }

    private func save(_ record: DeploymentRecord) async {
        records[record.name] = record
        do {
            try await store.save(record)
        } catch {
            logger.error("cannot write the state database", metadata: ["deployment": "\(record.name)", "error": "\(error)"])
        }
        refreshGauges()
    }

    /// Polls the bridge until it answers, failing fast when its container stops.
    private func waitUntilHealthy(_ name: String) async throws -> Int {
        guard let dockerName = records[name]?.dockerName else { throw CancellationError() }
        let deadline = ContinuousClock.now + configuration.startTimeout
        var port: Int?
        var checks = 0
        while ContinuousClock.now < deadline {
            if port == nil { port = try? await docker.publishedPort(of: dockerName) }
            if let port, await health.isHealthy(port: port) { return port }
            checks += 1
            if checks % 10 == 0, let state = await docker.state(of: dockerName), state != "running", state != "restarting" {
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        var logs = ""
        try? await docker.logs(of: dockerName, follow: false, tail: 20) { logs += String(decoding: $0, as: UTF8.self) }
        let state = await docker.state(of: dockerName) ?? "missing"
        throw Problem.unavailable("the bridge did not become healthy (container \(state)). Last log lines:\n\(logs.suffix(3000))")
    }

    // MARK: Stop, start, wake

    func stop(_ name: String, reason: String = "request") async throws -> DeploymentRecord {
        var record = try record(name)
        switch record.state {
        case .stopped: return record
        case .running: break
        default: throw Problem.conflict("'\(name)' is \(record.state.rawValue); only a running deployment can be stopped")
        }
        guard !busy.contains(name) else { throw Problem.conflict("'\(name)' has an operation under way; try again") }
        busy.insert(name)
        defer { busy.remove(name) }
        record.state = .stopping
        await save(record)
        do {
            try await docker.stop(record.dockerName)
        } catch {
            metrics.operationsFailed.increment()
            record.state = .running
            record.message = "stop failed: \(error)"
            await save(record)
            throw Problem.unavailable("stopping '\(name)' failed: \(error)")
        }
        record = records[name] ?? record
        record.state = .stopped
        record.port = nil
        record.message = nil
        await save(record)
        logger.info("deployment stopped", metadata: ["deployment": "\(name)", "reason": "\(reason)"])
        return record
    }

    /// The deployment's port once it is running and healthy, starting it when it is stopped
    /// (one start for any number of concurrent callers).
    func wake(_ name: String) async throws -> Int {
        let record = try record(name)
        switch record.state {
        case .running:
            if let port = record.port { return port }
        case .stopped, .starting:
            break
        case .creating:
            throw Problem(status: .serviceUnavailable, kind: "creating", title: "The deployment is being created",
                          detail: "'\(name)' is still being created (\(record.phase ?? "queued")); retry shortly", headers: [.retryAfter: "2"])
        case .stopping:
            throw Problem(status: .serviceUnavailable, kind: "stopping", title: "The deployment is stopping",
                          detail: "'\(name)' is stopping; retry shortly", headers: [.retryAfter: "2"])
        case .failed:
            throw Problem.unavailable("'\(name)' failed: \(record.message ?? "unknown reason"); delete and create it again")
        case .deleting:
            throw Problem.notFound(name)
        }
        if let pending = wakes[name] { return try await pending.value }
        guard !busy.contains(name) else { throw Problem.conflict("'\(name)' has an operation under way; try again") }
        let task = Task { try await self.performWake(name) }
        wakes[name] = task
        defer { wakes[name] = nil }
        return try await task.value
    }

    private func performWake(_ name: String) async throws -> Int {
        busy.insert(name)
        defer { busy.remove(name) }
        guard var record = records[name] else { throw Problem.notFound(name) }
        let started = ContinuousClock.now
        record.state = .starting
        await save(record)
        do {
            try await docker.start(record.dockerName)
            let port = try await waitUntilHealthy(name)
            let elapsed = ContinuousClock.now - started
            record = records[name] ?? record
            record.state = .running
            record.port = port
            record.message = nil
            record.wakeCount += 1
            record.lastWakeMilliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            record.lastActivityAt = Date()
            await save(record)
            metrics.wakes.recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            logger.info("deployment woke", metadata: ["deployment": "\(name)", "milliseconds": "\(record.lastWakeMilliseconds ?? 0)"])
            return port
        } catch {
            metrics.operationsFailed.increment()
            record = records[name] ?? record
            record.state = .stopped
            record.message = "start failed: \((error as? Problem)?.detail ?? "\(error)")"
            try? await docker.stop(record.dockerName)
            await save(record)
            throw error as? Problem ?? Problem.unavailable("starting '\(name)' failed: \(error)")
        }
    }

    // MARK: Timers

    func setTimers(_ name: String, _ timers: DeploymentTimers) async throws -> DeploymentRecord {
        var record = try record(name)
        guard record.state != .deleting else { throw Problem.notFound(name) }
        let problems = timers.problems(field: "body")
        guard problems.isEmpty else { throw Problem.invalid(problems) }
        record.timers = timers
        await save(record)
        return record
    }

    /// A front-door request begins: the deployment is not idle until it ends.
    func begin(_ name: String) {
        inFlight[name, default: 0] += 1
        touch(name)
    }

    func end(_ name: String) {
        if let count = inFlight[name] { inFlight[name] = count > 1 ? count - 1 : nil }
        touch(name)
    }

    private func touch(_ name: String) {
        records[name]?.lastActivityAt = Date()
    }

    /// Runs due timers; writes activity at most once a second per deployment.
    func tick(now: Date = Date()) async {
        for record in records.values {
            let idle = inFlight[record.name] == nil
            if let last = record.lastActivityAt, persistedActivity[record.name] != last,
               now.timeIntervalSince(persistedActivity[record.name] ?? .distantPast) >= 1 {
                persistedActivity[record.name] = last
                try? await store.save(record)
            }
            guard !busy.contains(record.name), wakes[record.name] == nil else { continue }
            if [.running, .stopped, .failed].contains(record.state), let deleteAt = record.deleteAt, now >= deleteAt {
                logger.info("deleting: deleteAfterSeconds reached", metadata: ["deployment": "\(record.name)"])
                _ = try? await delete(record.name)
            } else if idle, [.running, .stopped].contains(record.state), let seconds = record.timers.idleDelete,
                      now.timeIntervalSince(record.idleSince) >= Double(seconds) {
                logger.info("deleting: idleDeleteAfterSeconds reached", metadata: ["deployment": "\(record.name)"])
                _ = try? await delete(record.name)
            } else if idle, record.state == .running, let seconds = record.timers.idleStop,
                      now.timeIntervalSince(record.idleSince) >= Double(seconds) {
                _ = try? await stop(record.name, reason: "idleStopAfterSeconds reached")
            }
        }
    }

    // MARK: Delete

    func delete(_ name: String) async throws -> DeploymentRecord {
        var record = try record(name)
        if record.state == .deleting { return record }
        record.state = .deleting
        record.phase = "removing"
        await save(record)
        logger.info("deleting deployment", metadata: ["deployment": "\(name)"])
        // A create under way sees the new state and removes the deployment itself when it ends.
        if !busy.contains(name) { spawn { await self.remove(name) } }
        return record
    }

    private func remove(_ name: String) async {
        guard let record = records[name], record.state == .deleting, !busy.contains(name) else { return }
        busy.insert(name)
        defer { busy.remove(name) }
        let left = await docker.removeAll(deployment: record.dockerName)
        if !left.isEmpty {
            logger.warning("some objects could not be removed yet; retried by the next sweep", metadata: ["deployment": "\(name)", "left": "\(left)"])
        }
        do {
            try await store.remove(name)
            records[name] = nil
            inFlight[name] = nil
            persistedActivity[name] = nil
            refreshGauges()
            logger.info("deployment deleted", metadata: ["deployment": "\(name)"])
        } catch {
            logger.error("cannot remove the record; retried at the next start", metadata: ["deployment": "\(name)", "error": "\(error)"])
        }
    }

    // MARK: Restart safety

    /// Brings records and docker into line after a start: an interrupted create is undone, an
    /// interrupted delete finished, running containers adopted, objects without a record removed.
    func reconcile() async throws {
        try? FileManager.default.removeItem(at: buildsDirectory)
        for record in try await store.records() { records[record.name] = record }
        for var record in records.values {
            switch record.state {
            case .creating:
                logger.warning("rolling back a create interrupted by the last stop", metadata: ["deployment": "\(record.name)"])
                await docker.removeAll(deployment: record.dockerName)
                try await store.remove(record.name)
                records[record.name] = nil
            case .deleting:
                await remove(record.name)
            case .running, .starting, .stopping, .stopped:
                switch await docker.state(of: record.dockerName) {
                case nil:
                    record.state = .failed
                    record.message = "its containers were removed outside the service; delete and create it again"
                    record.port = nil
                case "running"?:
                    record.state = .running
                    record.port = try? await docker.publishedPort(of: record.dockerName)
                default:
                    record.state = .stopped
                    record.port = nil
                }
                await save(record)
            case .failed:
                break
            }
        }
        try await collectGarbage()
        refreshGauges()
        logger.info("reconciled", metadata: ["deployments": "\(records.count)"])
    }

    /// Removes objects with the service's label whose deployment has no record (left by a
    /// docker command that outlived a killed service, or by an interrupted removal), and
    /// finishes deletes that could not remove everything.
    func collectGarbage() async throws {
        let startedBefore = createsStarted
        let quietBefore = createsUnderWay == 0
        let listed = try await docker.objects()
        let buildsMayRun = !quietBefore || createsUnderWay > 0 || createsStarted != startedBefore
        let orphans = OrphanSelection.orphans(of: listed, known: Set(records.values.map(\.dockerName)), buildsMayRun: buildsMayRun)
        if !orphans.isEmpty {
            logger.info("removing objects with no deployment", metadata: ["objects": "\(orphans.map { "\($0.kind) \($0.name)" })"])
            await docker.remove(orphans)
        }
        for record in records.values where record.state == .deleting && !busy.contains(record.name) {
            await remove(record.name)
        }
    }

    private func spawn(_ work: @escaping @Sendable () async -> Void) {
        let id = UUID()
        background[id] = Task {
            await work()
            self.forget(id)
        }
    }

    private func forget(_ id: UUID) { background[id] = nil }

    /// Waits for operations under way (at shutdown: a build is not cut in half needlessly).
    func drain() async {
        for task in background.values { await task.value }
    }

    private func refreshGauges() {
        var counts: [DeploymentRecord.State: Int] = [:]
        for record in records.values { counts[record.state, default: 0] += 1 }
        for state in DeploymentRecord.State.allCases { metrics.deployments(state).set(Double(counts[state] ?? 0)) }
    }
}
