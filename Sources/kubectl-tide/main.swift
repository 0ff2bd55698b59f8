import ArgumentParser
import TideCLI

/// `kubectl tide`: kubectl finds this executable on PATH as the plugin `tide`.
@main
enum KubectlTideMain {
    static func main() async { await KubectlTideCommand.main() }
}
