
use builtin;
use str;

set edit:completion:arg-completer[berth] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'berth'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'berth'= {
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -v 'Print version information and quit'
            cand --version 'Print version information and quit'
            cand -h 'Print help'
            cand --help 'Print help'
            cand run 'Create and run a new container from an image, publishing its ports'
            cand ps 'List containers'
            cand port 'List port mappings or a specific mapping for the container'
            cand start 'Start one or more stopped containers'
            cand stop 'Stop one or more running containers'
            cand rm 'Remove one or more containers'
            cand nat 'Show and repair the NAT rules berth writes'
            cand completions 'Print a shell completion script'
            cand man 'Print berth''s man pages, or write them all to a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'berth;run'= {
            cand -p 'Publish a container''s port(s) to the host'
            cand --publish 'Publish a container''s port(s) to the host'
            cand --expose 'Expose a port or a range of ports'
            cand --name 'Assign a name to the container'
            cand -e 'Set environment variables'
            cand --env 'Set environment variables'
            cand --env-file 'Read in a file of environment variables'
            cand --entrypoint 'Overwrite the default ENTRYPOINT of the image'
            cand -w 'Working directory inside the container'
            cand --workdir 'Working directory inside the container'
            cand -u 'Username or UID (format: <name|uid>[:<group|gid>])'
            cand --user 'Username or UID (format: <name|uid>[:<group|gid>])'
            cand --network 'Connect a container to a network'
            cand -l 'Set meta data on a container'
            cand --label 'Set meta data on a container'
            cand --format 'Output format of --dry-run'
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -P 'Publish all exposed ports to random ports'
            cand --publish-all 'Publish all exposed ports to random ports'
            cand -d 'Run container in background and print container ID'
            cand --detach 'Run container in background and print container ID'
            cand --rm 'Automatically remove the container and its associated anonymous volumes when it exits'
            cand -i 'Keep STDIN open even if not attached'
            cand --interactive 'Keep STDIN open even if not attached'
            cand -t 'Allocate a pseudo-TTY'
            cand --tty 'Allocate a pseudo-TTY'
            cand --dry-run 'Print the plan (ports, bindings, rules) and change nothing'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'berth;ps'= {
            cand --format 'Format output: table, json, or a Go template such as ''{{.ID}} {{.Ports}}'''
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -a 'Show all containers (default shows just running)'
            cand --all 'Show all containers (default shows just running)'
            cand -q 'Only display container IDs'
            cand --quiet 'Only display container IDs'
            cand --no-trunc 'Don''t truncate output'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;port'= {
            cand --format 'Output format'
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'berth;start'= {
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -a 'Attach STDOUT/STDERR and forward signals'
            cand --attach 'Attach STDOUT/STDERR and forward signals'
            cand -i 'Attach container''s STDIN'
            cand --interactive 'Attach container''s STDIN'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;stop'= {
            cand -s 'Signal to send to the container'
            cand --signal 'Signal to send to the container'
            cand -t 'Seconds to wait before killing the container'
            cand --timeout 'Seconds to wait before killing the container'
            cand --time 'Seconds to wait before killing the container'
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;rm'= {
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -f 'Force the removal of a running container (uses SIGKILL)'
            cand --force 'Force the removal of a running container (uses SIGKILL)'
            cand -v 'Remove anonymous volumes associated with the container'
            cand --volumes 'Remove anonymous volumes associated with the container'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;nat'= {
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
            cand ls 'List the nat table exactly as `iptables -t nat -nL` does, or as a table'
            cand sync 'Repair berth''s rules so they match the running containers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'berth;nat;ls'= {
            cand --format 'Output format'
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -v 'Verbose output: counters, interfaces'
            cand --verbose 'Verbose output: counters, interfaces'
            cand -x 'Exact counters (no K/M/G rounding)'
            cand --exact 'Exact counters (no K/M/G rounding)'
            cand --line-numbers 'Number the rules of each chain'
            cand --table 'One row per rule, with the container each berth rule belongs to'
            cand --berth 'Only berth''s chains'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'berth;nat;sync'= {
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand --dry-run 'Print what would change and change nothing'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;nat;help'= {
            cand ls 'List the nat table exactly as `iptables -t nat -nL` does, or as a table'
            cand sync 'Repair berth''s rules so they match the running containers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'berth;nat;help;ls'= {
        }
        &'berth;nat;help;sync'= {
        }
        &'berth;nat;help;help'= {
        }
        &'berth;completions'= {
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;man'= {
            cand --out 'Write every page (berth.1, berth-run.1, ...) into this directory'
            cand -H 'Daemon socket to connect to'
            cand --host 'Daemon socket to connect to'
            cand --config 'Location of berth''s config files'
            cand -D 'Enable debug mode'
            cand --debug 'Enable debug mode'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;help'= {
            cand run 'Create and run a new container from an image, publishing its ports'
            cand ps 'List containers'
            cand port 'List port mappings or a specific mapping for the container'
            cand start 'Start one or more stopped containers'
            cand stop 'Stop one or more running containers'
            cand rm 'Remove one or more containers'
            cand nat 'Show and repair the NAT rules berth writes'
            cand completions 'Print a shell completion script'
            cand man 'Print berth''s man pages, or write them all to a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'berth;help;run'= {
        }
        &'berth;help;ps'= {
        }
        &'berth;help;port'= {
        }
        &'berth;help;start'= {
        }
        &'berth;help;stop'= {
        }
        &'berth;help;rm'= {
        }
        &'berth;help;nat'= {
            cand ls 'List the nat table exactly as `iptables -t nat -nL` does, or as a table'
            cand sync 'Repair berth''s rules so they match the running containers'
        }
        &'berth;help;nat;ls'= {
        }
        &'berth;help;nat;sync'= {
        }
        &'berth;help;completions'= {
        }
        &'berth;help;man'= {
        }
        &'berth;help;help'= {
        }
    ]
    $completions[$command]
}
