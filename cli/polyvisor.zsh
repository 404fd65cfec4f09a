#compdef polyvisor
# zsh completion for polyvisor (polyvisor completion zsh > "${fpath[1]}/_polyvisor",
# or: source <(polyvisor completion zsh))
_polyvisor() {
    local -a collections commands globals
    collections=(vm host cluster host-group connection job event schedule plan storage-pool network)
    commands=(login logout context placement completion help $collections)
    globals=('--server[polyvisord URL]:url:' '--insecure[skip TLS verification]'
             '--context[named context]:context:_polyvisor_contexts'
             '(-o --output)'{-o,--output}'[output format]:format:(table json name)'
             '--no-headers[tables without a header line]')

    local -a words_left
    local w cmd sub skip=0
    for w in ${words[2,CURRENT-1]}; do
        if (( skip )); then skip=0; continue; fi
        case $w in
            --server|--context|--output|-o|--user|--filter|--sort|--fields|--limit|--name|--vcpus|--memory-mb|--host|--disk|--nic|--ha|--tag|--mode|--vm|--vendor|--host-group|--type|--url|--evacuate) skip=1 ;;
            -*) ;;
            *) words_left+=($w) ;;
        esac
    done
    cmd=${words_left[1]}; sub=${words_left[2]}

    if [[ -z $cmd ]]; then
        _arguments -s $globals '*::command:(('"${(j: :)commands}"'))'
        return
    fi
    if [[ -z $sub ]]; then
        case $cmd in
            vm) compadd list get create start stop poweroff reboot pause resume save delete migrate ;;
            job) compadd list get wait cancel restart ;;
            host) compadd list get maintenance maintenance-exit ;;
            connection) compadd list get add sync delete ;;
            schedule) compadd list get run enable disable delete ;;
            plan) compadd list get approve reject ;;
            context) compadd list use delete ;;
            placement) compadd rate ;;
            completion) compadd bash zsh ;;
            login) _arguments '--user[user name]:user:' '--password-stdin[read the password from stdin]' ;;
            logout|help) ;;
            *) compadd list get ;;
        esac
        return
    fi
    case $cmd/$sub in
        vm/create) _arguments '--name:name:' '--vcpus:vcpus:' '--memory-mb:MiB:' \
                       '--host:host:_polyvisor_names host' '*--disk:disk (size_gb=N,pool=P):' \
                       '*--nic:nic (network=NET):' '--ha:ha:(off low medium high)' '*--tag:tag:' '--wait' ;;
        vm/migrate) _arguments '1:vm:_polyvisor_names vm' '--host:host:_polyvisor_names host' \
                        '--mode:mode:(live quick)' '--wait' ;;
        vm/list|*/list) _arguments '--filter:filter:' '--sort:field:' '--fields:fields:' '--limit:n:' '--all' ;;
        vm/get|host/get) _arguments "1:$cmd:_polyvisor_names $cmd" '--fields:fields:' ;;
        vm/*) _arguments '1:vm:_polyvisor_names vm' '--wait' ;;
        job/cancel|job/restart) _arguments '1:job:' '--wait' ;;
        host/maintenance) _arguments '1:host:_polyvisor_names host' '--evacuate:how:(live quick none)' '--wait' ;;
        host/maintenance-exit) _arguments '1:host:_polyvisor_names host' '--wait' ;;
        connection/add) _arguments '--type:type:(kvm vcenter hyperv test)' '--url:url:' '--token-stdin' \
                            '--user:user:' '--password-stdin' '--skip-tls-verify' '--wait' ;;
        connection/sync|connection/delete|schedule/run|plan/approve) _arguments '1:id:' '--wait' ;;
        context/use|context/delete) _polyvisor_contexts ;;
        placement/rate) _arguments '--vm:vm:_polyvisor_names vm' '--vcpus:vcpus:' '--memory-mb:MiB:' \
                            '--vendor:vendor:(kvm vcenter hyperv)' '*--disk:disk:' '*--nic:nic:' \
                            '*--tag:tag:' '--host-group:group:' '--limit:n:' ;;
    esac
}
_polyvisor_names() {
    local -a names
    names=(${(uf)"$(polyvisor $1 list --all --fields name -o table --no-headers 2>/dev/null)"})
    compadd -a names
}
_polyvisor_contexts() {
    local -a names
    names=(${(f)"$(polyvisor context list -o name 2>/dev/null)"})
    compadd -a names
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _polyvisor "$@"
else
    compdef _polyvisor polyvisor
fi
