import Foundation
import MCPBridge
import OpenAPIRuntime
import SandboxBuilder

/// The `/v1` API as the OpenAPI document defines it (`APIProtocol` is generated from
/// openapi/openapi.yaml). Failures are thrown as `Problem`s; `ProblemMiddleware` answers them.
struct APIHandler: APIProtocol {
    let manager: DeploymentManager
    let metrics: ServiceMetrics
    let address: PublicAddress
    let serviceID: String

    static let document: OpenAPIObjectContainer? = try? JSONDecoder().decode(OpenAPIObjectContainer.self, from: Data(OpenAPIDocument.json.utf8))

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, deployments: await manager.count))))
    }

    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(metrics.render()))))
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        guard let document = Self.document else { throw Problem.unavailable("the embedded OpenAPI document does not decode") }
        return .ok(.init(body: .json(document)))
    }

    func listDeployments(_ input: Operations.ListDeployments.Input) async throws -> Operations.ListDeployments.Output {
        let state = input.query.state.flatMap { DeploymentRecord.State(rawValue: $0.rawValue) }
        if let prefix = input.query.prefix, prefix.count > 30 {
            throw Problem.badRequest("prefix: at most 30 characters")
        }
        let items = await manager.all(state: state, prefix: input.query.prefix).map(view)
        return .ok(.init(body: .json(.init(items: items))))
    }

    func createDeployment(_ input: Operations.CreateDeployment.Input) async throws -> Operations.CreateDeployment.Output {
        guard case .json(let body) = input.body else { throw Problem.badRequest("send the deployment as application/json") }
        let token = "mcpdt_" + SecureRandom.hex(byteCount: 32)
        let timers = DeploymentTimers(deleteAfter: body.timers?.deleteAfterSeconds, idleStop: body.timers?.idleStopAfterSeconds,
                                      idleDelete: body.timers?.idleDeleteAfterSeconds)
        let request = try DeploymentRequest(
            name: body.name, settings: body.settings?.additionalProperties, image: body.image, command: body.command,
            environment: body.environment?.additionalProperties, memory: body.memory, cpus: body.cpus, timers: timers,
            dockerName: "\(serviceID.prefix(6))-\(body.name)", token: token,
            labels: ["\(ServiceDocker.serviceLabelKey)=\(serviceID)"])
        let record = try await manager.create(request, token: token)
        return .accepted(.init(headers: .init(location: "/v1/deployments/\(record.name)"),
                               body: .json(.init(deployment: view(record), token: token))))
    }

    func getDeployment(_ input: Operations.GetDeployment.Input) async throws -> Operations.GetDeployment.Output {
        .ok(.init(body: .json(view(try await manager.record(checked(input.path.name))))))
    }

    func deleteDeployment(_ input: Operations.DeleteDeployment.Input) async throws -> Operations.DeleteDeployment.Output {
        .accepted(.init(body: .json(view(try await manager.delete(checked(input.path.name))))))
    }

    func stopDeployment(_ input: Operations.StopDeployment.Input) async throws -> Operations.StopDeployment.Output {
        .ok(.init(body: .json(view(try await manager.stop(checked(input.path.name))))))
    }

    func startDeployment(_ input: Operations.StartDeployment.Input) async throws -> Operations.StartDeployment.Output {
        let name = try checked(input.path.name)
        let record = try await manager.record(name)
        guard [.running, .stopped, .starting].contains(record.state) else {
            throw Problem.conflict("'\(name)' is \(record.state.rawValue); only a stopped deployment can be started")
        }
        _ = try await manager.wake(name)
        return .ok(.init(body: .json(view(try await manager.record(name)))))
    }

    func setTimers(_ input: Operations.SetTimers.Input) async throws -> Operations.SetTimers.Output {
        guard case .json(let body) = input.body else { throw Problem.badRequest("send the timers as application/json") }
        let timers = DeploymentTimers(deleteAfter: body.deleteAfterSeconds, idleStop: body.idleStopAfterSeconds, idleDelete: body.idleDeleteAfterSeconds)
        return .ok(.init(body: .json(view(try await manager.setTimers(checked(input.path.name), timers)))))
    }

    func getDeploymentLogs(_ input: Operations.GetDeploymentLogs.Input) async throws -> Operations.GetDeploymentLogs.Output {
        let name = try checked(input.path.name)
        let record = try await manager.record(name)
        guard ![.creating, .deleting].contains(record.state) else {
            throw Problem.conflict("'\(name)' is \(record.state.rawValue); its containers have no log yet or any more")
        }
        let tail = input.query.tail ?? 200
        guard (0...10_000).contains(tail) else { throw Problem.badRequest("tail: use 0 to 10000 lines; got \(tail)") }
        let follow = input.query.follow ?? false
        let docker = manager.docker
        let (stream, continuation) = AsyncThrowingStream<ArraySlice<UInt8>, any Error>.makeStream(bufferingPolicy: .bufferingOldest(256))
        let task = Task {
            do {
                try await docker.logs(of: record.dockerName, follow: follow, tail: tail) { chunk in
                    // Waits while the client is behind (the buffer is bounded), instead of dropping lines.
                    while case .dropped = continuation.yield(chunk[...]) {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return .ok(.init(body: .plainText(HTTPBody(stream, length: .unknown, iterationBehavior: .single))))
    }

    /// Path names are checked like created ones, so a name the API could never have made is a 400.
    private func checked(_ name: String) throws -> String {
        if let problem = DeploymentRequest.nameProblem(name) { throw Problem.badRequest("\(problem.field): \(problem.detail)") }
        return name
    }

    func view(_ record: DeploymentRecord) -> Components.Schemas.Deployment {
        Components.Schemas.Deployment(
            name: record.name,
            state: Components.Schemas.DeploymentState(rawValue: record.state.rawValue) ?? .failed,
            phase: record.phase,
            message: record.message,
            source: record.source == .image ? .image : .settings,
            image: record.sourceImage ?? record.imageTag,
            runtime: record.runtime,
            createdAt: record.createdAt,
            lastActivityAt: record.lastActivityAt,
            deleteAt: record.deleteAt,
            limits: .init(memory: record.memory, cpus: record.cpus, pids: record.pids),
            timers: .init(deleteAfterSeconds: record.timers.deleteAfter, idleStopAfterSeconds: record.timers.idleStop,
                          idleDeleteAfterSeconds: record.timers.idleDelete),
            endpoints: .init(mcp: "\(address.url)/d/\(record.name)/mcp", sse: "\(address.url)/d/\(record.name)/sse"),
            wakeCount: record.wakeCount,
            lastWakeMilliseconds: record.lastWakeMilliseconds)
    }
}
