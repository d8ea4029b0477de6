# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_berth_global_optspecs
    string join \n H/host= D/debug config= v/version h/help
end

function __fish_berth_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_berth_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_berth_using_subcommand
    set -l cmd (__fish_berth_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c berth -n "__fish_berth_needs_command" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_needs_command" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_needs_command" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_needs_command" -s v -l version -d 'Print version information and quit'
complete -c berth -n "__fish_berth_needs_command" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_needs_command" -f -a "run" -d 'Create and run a new container from an image, publishing its ports'
complete -c berth -n "__fish_berth_needs_command" -f -a "ps" -d 'List containers'
complete -c berth -n "__fish_berth_needs_command" -f -a "port" -d 'List port mappings or a specific mapping for the container'
complete -c berth -n "__fish_berth_needs_command" -f -a "start" -d 'Start one or more stopped containers'
complete -c berth -n "__fish_berth_needs_command" -f -a "stop" -d 'Stop one or more running containers'
complete -c berth -n "__fish_berth_needs_command" -f -a "rm" -d 'Remove one or more containers'
complete -c berth -n "__fish_berth_needs_command" -f -a "nat" -d 'Show and repair the NAT rules berth writes'
complete -c berth -n "__fish_berth_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c berth -n "__fish_berth_needs_command" -f -a "man" -d 'Print berth\'s man pages, or write them all to a directory'
complete -c berth -n "__fish_berth_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand run" -s p -l publish -d 'Publish a container\'s port(s) to the host' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l expose -d 'Expose a port or a range of ports' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l name -d 'Assign a name to the container' -r
complete -c berth -n "__fish_berth_using_subcommand run" -s e -l env -d 'Set environment variables' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l env-file -d 'Read in a file of environment variables' -r -F
complete -c berth -n "__fish_berth_using_subcommand run" -l entrypoint -d 'Overwrite the default ENTRYPOINT of the image' -r
complete -c berth -n "__fish_berth_using_subcommand run" -s w -l workdir -d 'Working directory inside the container' -r
complete -c berth -n "__fish_berth_using_subcommand run" -s u -l user -d 'Username or UID (format: <name|uid>[:<group|gid>])' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l network -d 'Connect a container to a network' -r
complete -c berth -n "__fish_berth_using_subcommand run" -s l -l label -d 'Set meta data on a container' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l format -d 'Output format of --dry-run' -r -f -a "text\t'Human-readable text'
json\t'One JSON document'"
complete -c berth -n "__fish_berth_using_subcommand run" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand run" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand run" -s P -l publish-all -d 'Publish all exposed ports to random ports'
complete -c berth -n "__fish_berth_using_subcommand run" -s d -l detach -d 'Run container in background and print container ID'
complete -c berth -n "__fish_berth_using_subcommand run" -l rm -d 'Automatically remove the container and its associated anonymous volumes when it exits'
complete -c berth -n "__fish_berth_using_subcommand run" -s i -l interactive -d 'Keep STDIN open even if not attached'
complete -c berth -n "__fish_berth_using_subcommand run" -s t -l tty -d 'Allocate a pseudo-TTY'
complete -c berth -n "__fish_berth_using_subcommand run" -l dry-run -d 'Print the plan (ports, bindings, rules) and change nothing'
complete -c berth -n "__fish_berth_using_subcommand run" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand ps" -l format -d 'Format output: table, json, or a Go template such as \'{{.ID}} {{.Ports}}\'' -r
complete -c berth -n "__fish_berth_using_subcommand ps" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand ps" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand ps" -s a -l all -d 'Show all containers (default shows just running)'
complete -c berth -n "__fish_berth_using_subcommand ps" -s q -l quiet -d 'Only display container IDs'
complete -c berth -n "__fish_berth_using_subcommand ps" -l no-trunc -d 'Don\'t truncate output'
complete -c berth -n "__fish_berth_using_subcommand ps" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand ps" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand port" -l format -d 'Output format' -r -f -a "text\t'Human-readable text'
json\t'One JSON document'"
complete -c berth -n "__fish_berth_using_subcommand port" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand port" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand port" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand port" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand start" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand start" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand start" -s a -l attach -d 'Attach STDOUT/STDERR and forward signals'
complete -c berth -n "__fish_berth_using_subcommand start" -s i -l interactive -d 'Attach container\'s STDIN'
complete -c berth -n "__fish_berth_using_subcommand start" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand start" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand stop" -s s -l signal -d 'Signal to send to the container' -r
complete -c berth -n "__fish_berth_using_subcommand stop" -s t -l timeout -l time -d 'Seconds to wait before killing the container' -r
complete -c berth -n "__fish_berth_using_subcommand stop" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand stop" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand stop" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand stop" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand rm" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand rm" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand rm" -s f -l force -d 'Force the removal of a running container (uses SIGKILL)'
complete -c berth -n "__fish_berth_using_subcommand rm" -s v -l volumes -d 'Remove anonymous volumes associated with the container'
complete -c berth -n "__fish_berth_using_subcommand rm" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand rm" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -f -a "ls" -d 'List the nat table exactly as `iptables -t nat -nL` does, or as a table'
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -f -a "sync" -d 'Repair berth\'s rules so they match the running containers'
complete -c berth -n "__fish_berth_using_subcommand nat; and not __fish_seen_subcommand_from ls sync help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -l format -d 'Output format' -r -f -a "text\t'Human-readable text'
json\t'One JSON document'"
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Verbose output: counters, interfaces'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -s x -l exact -d 'Exact counters (no K/M/G rounding)'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -l line-numbers -d 'Number the rules of each chain'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -l table -d 'One row per rule, with the container each berth rule belongs to'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -l berth -d 'Only berth\'s chains'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from sync" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from sync" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from sync" -l dry-run -d 'Print what would change and change nothing'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from sync" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from sync" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List the nat table exactly as `iptables -t nat -nL` does, or as a table'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from help" -f -a "sync" -d 'Repair berth\'s rules so they match the running containers'
complete -c berth -n "__fish_berth_using_subcommand nat; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand completions" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand completions" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand completions" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand completions" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand man" -l out -d 'Write every page (berth.1, berth-run.1, ...) into this directory' -r -F
complete -c berth -n "__fish_berth_using_subcommand man" -s H -l host -d 'Daemon socket to connect to' -r
complete -c berth -n "__fish_berth_using_subcommand man" -l config -d 'Location of berth\'s config files' -r -F
complete -c berth -n "__fish_berth_using_subcommand man" -s D -l debug -d 'Enable debug mode'
complete -c berth -n "__fish_berth_using_subcommand man" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "run" -d 'Create and run a new container from an image, publishing its ports'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "ps" -d 'List containers'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "port" -d 'List port mappings or a specific mapping for the container'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "start" -d 'Start one or more stopped containers'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "stop" -d 'Stop one or more running containers'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "rm" -d 'Remove one or more containers'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "nat" -d 'Show and repair the NAT rules berth writes'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "man" -d 'Print berth\'s man pages, or write them all to a directory'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from run ps port start stop rm nat completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from nat" -f -a "ls" -d 'List the nat table exactly as `iptables -t nat -nL` does, or as a table'
complete -c berth -n "__fish_berth_using_subcommand help; and __fish_seen_subcommand_from nat" -f -a "sync" -d 'Repair berth\'s rules so they match the running containers'
