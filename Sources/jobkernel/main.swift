// Temporary entry point until the CLI lands: `jobkernel serve [--socket P] [--stdio] [--db P] [--config P]`.
import Glibc
import JobKernelServer

var options = ServeOptions()
var args = Array(CommandLine.arguments.dropFirst())
if args.first == "serve" { args.removeFirst() }
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--socket": options.socketPath = args.removeFirst()
    case "--stdio": options.stdio = true
    case "--db": options.dbPath = args.removeFirst()
    case "--config": options.configPath = args.removeFirst()
    case "--socket-mode": options.socketMode = mode_t(args.removeFirst(), radix: 8)
    default: fputs("unknown argument \(a)\n", stderr); exit(2)
    }
}
exit(KernelMain.serve(options))
