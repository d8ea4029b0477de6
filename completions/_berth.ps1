
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'berth' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'berth'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'berth' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print version information and quit')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version information and quit')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create and run a new container from an image, publishing its ports')
            [CompletionResult]::new('ps', 'ps', [CompletionResultType]::ParameterValue, 'List containers')
            [CompletionResult]::new('port', 'port', [CompletionResultType]::ParameterValue, 'List port mappings or a specific mapping for the container')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start one or more stopped containers')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop one or more running containers')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove one or more containers')
            [CompletionResult]::new('nat', 'nat', [CompletionResultType]::ParameterValue, 'Show and repair the NAT rules berth writes')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print berth''s man pages, or write them all to a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'berth;run' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Publish a container''s port(s) to the host')
            [CompletionResult]::new('--publish', '--publish', [CompletionResultType]::ParameterName, 'Publish a container''s port(s) to the host')
            [CompletionResult]::new('--expose', '--expose', [CompletionResultType]::ParameterName, 'Expose a port or a range of ports')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Assign a name to the container')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Set environment variables')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Set environment variables')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Read in a file of environment variables')
            [CompletionResult]::new('--entrypoint', '--entrypoint', [CompletionResultType]::ParameterName, 'Overwrite the default ENTRYPOINT of the image')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Working directory inside the container')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Working directory inside the container')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Username or UID (format: <name|uid>[:<group|gid>])')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Username or UID (format: <name|uid>[:<group|gid>])')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Connect a container to a network')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Set meta data on a container')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Set meta data on a container')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Publish all exposed ports to random ports')
            [CompletionResult]::new('--publish-all', '--publish-all', [CompletionResultType]::ParameterName, 'Publish all exposed ports to random ports')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Run container in background and print container ID')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Run container in background and print container ID')
            [CompletionResult]::new('--rm', '--rm', [CompletionResultType]::ParameterName, 'Automatically remove the container and its associated anonymous volumes when it exits')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Keep STDIN open even if not attached')
            [CompletionResult]::new('--interactive', '--interactive', [CompletionResultType]::ParameterName, 'Keep STDIN open even if not attached')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Allocate a pseudo-TTY')
            [CompletionResult]::new('--tty', '--tty', [CompletionResultType]::ParameterName, 'Allocate a pseudo-TTY')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan (ports, bindings, rules) and change nothing')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'berth;ps' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Format output: table, json, or a Go template such as ''{{.ID}} {{.Ports}}''')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Show all containers (default shows just running)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Show all containers (default shows just running)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only display container IDs')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only display container IDs')
            [CompletionResult]::new('--no-trunc', '--no-trunc', [CompletionResultType]::ParameterName, 'Don''t truncate output')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;port' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'berth;start' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Attach STDOUT/STDERR and forward signals')
            [CompletionResult]::new('--attach', '--attach', [CompletionResultType]::ParameterName, 'Attach STDOUT/STDERR and forward signals')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Attach container''s STDIN')
            [CompletionResult]::new('--interactive', '--interactive', [CompletionResultType]::ParameterName, 'Attach container''s STDIN')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;stop' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Signal to send to the container')
            [CompletionResult]::new('--signal', '--signal', [CompletionResultType]::ParameterName, 'Signal to send to the container')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Seconds to wait before killing the container')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait before killing the container')
            [CompletionResult]::new('--time', '--time', [CompletionResultType]::ParameterName, 'Seconds to wait before killing the container')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;rm' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Force the removal of a running container (uses SIGKILL)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Force the removal of a running container (uses SIGKILL)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Remove anonymous volumes associated with the container')
            [CompletionResult]::new('--volumes', '--volumes', [CompletionResultType]::ParameterName, 'Remove anonymous volumes associated with the container')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;nat' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the nat table exactly as `iptables -t nat -nL` does, or as a table')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Repair berth''s rules so they match the running containers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'berth;nat;ls' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Verbose output: counters, interfaces')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Verbose output: counters, interfaces')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Exact counters (no K/M/G rounding)')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'Exact counters (no K/M/G rounding)')
            [CompletionResult]::new('--line-numbers', '--line-numbers', [CompletionResultType]::ParameterName, 'Number the rules of each chain')
            [CompletionResult]::new('--table', '--table', [CompletionResultType]::ParameterName, 'One row per rule, with the container each berth rule belongs to')
            [CompletionResult]::new('--berth', '--berth', [CompletionResultType]::ParameterName, 'Only berth''s chains')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'berth;nat;sync' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would change and change nothing')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;nat;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the nat table exactly as `iptables -t nat -nL` does, or as a table')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Repair berth''s rules so they match the running containers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'berth;nat;help;ls' {
            break
        }
        'berth;nat;help;sync' {
            break
        }
        'berth;nat;help;help' {
            break
        }
        'berth;completions' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;man' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write every page (berth.1, berth-run.1, ...) into this directory')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Daemon socket to connect to')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Location of berth''s config files')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable debug mode')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create and run a new container from an image, publishing its ports')
            [CompletionResult]::new('ps', 'ps', [CompletionResultType]::ParameterValue, 'List containers')
            [CompletionResult]::new('port', 'port', [CompletionResultType]::ParameterValue, 'List port mappings or a specific mapping for the container')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start one or more stopped containers')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop one or more running containers')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove one or more containers')
            [CompletionResult]::new('nat', 'nat', [CompletionResultType]::ParameterValue, 'Show and repair the NAT rules berth writes')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print berth''s man pages, or write them all to a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'berth;help;run' {
            break
        }
        'berth;help;ps' {
            break
        }
        'berth;help;port' {
            break
        }
        'berth;help;start' {
            break
        }
        'berth;help;stop' {
            break
        }
        'berth;help;rm' {
            break
        }
        'berth;help;nat' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the nat table exactly as `iptables -t nat -nL` does, or as a table')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Repair berth''s rules so they match the running containers')
            break
        }
        'berth;help;nat;ls' {
            break
        }
        'berth;help;nat;sync' {
            break
        }
        'berth;help;completions' {
            break
        }
        'berth;help;man' {
            break
        }
        'berth;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
