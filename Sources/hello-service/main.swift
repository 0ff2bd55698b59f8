import ArgumentParser
import HelloService

/// `hello-service` on its own (the image runs it from the operator's binary).
@main
enum HelloServiceMain {
    static func main() async { await HelloServiceCommand.main() }
}
