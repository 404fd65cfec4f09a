# bash completion for polyvisor (polyvisor completion bash > /etc/bash_completion.d/polyvisor,
# or: source <(polyvisor completion bash))
_polyvisor() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    fi
    local collections="vm host cluster host-group connection job event schedule plan storage-pool network"
    local commands="login logout context placement completion help $collections"
    local globals="--server --insecure --context --output -o --no-headers --help"

    case $prev in
        -o|--output) COMPREPLY=($(compgen -W "table json name" -- "$cur")); return ;;
        --mode) COMPREPLY=($(compgen -W "live quick" -- "$cur")); return ;;
        --ha) COMPREPLY=($(compgen -W "off low medium high" -- "$cur")); return ;;
        --evacuate) COMPREPLY=($(compgen -W "live quick none" -- "$cur")); return ;;
        --type) COMPREPLY=($(compgen -W "kvm vcenter hyperv test" -- "$cur")); return ;;
        --context) COMPREPLY=($(compgen -W "$(polyvisor context list -o name 2>/dev/null)" -- "$cur")); return ;;
        --host) COMPREPLY=($(compgen -W "$(polyvisor host list --all --fields name -o table --no-headers 2>/dev/null | sort -u)" -- "$cur")); return ;;
        --server|--user|--name|--vcpus|--memory-mb|--filter|--sort|--fields|--limit|--disk|--nic|--tag|--vm|--vendor|--host-group|--url)
            return ;;
    esac

    # the command words so far, flags and their values left out
    local i w cmd="" sub="" nargs=0
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
            --server|--context|--output|-o|--user|--filter|--sort|--fields|--limit|--name|--vcpus|--memory-mb|--host|--disk|--nic|--ha|--tag|--mode|--vm|--vendor|--host-group|--type|--url|--evacuate)
                ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; else ((nargs++)); fi ;;
        esac
    done

    if [[ $cur == -* ]]; then
        local flags=$globals
        case $cmd/$sub in
            login/*) flags+=" --user --password-stdin" ;;
            vm/create) flags+=" --name --vcpus --memory-mb --host --disk --nic --ha --tag --wait" ;;
            vm/migrate) flags+=" --host --mode --wait" ;;
            vm/start|vm/stop|vm/poweroff|vm/reboot|vm/pause|vm/resume|vm/save|vm/delete|job/cancel|job/restart) flags+=" --wait" ;;
            host/maintenance) flags+=" --evacuate --wait" ;;
            host/maintenance-exit|connection/sync|connection/delete|schedule/run|plan/approve) flags+=" --wait" ;;
            connection/add) flags+=" --type --url --token-stdin --user --password-stdin --skip-tls-verify --wait" ;;
            */list) flags+=" --filter --sort --fields --limit --all" ;;
            */get) flags+=" --fields" ;;
            placement/rate) flags+=" --vm --vcpus --memory-mb --vendor --disk --nic --tag --host-group --limit" ;;
        esac
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    if [[ -z $sub ]]; then
        case $cmd in
            vm) COMPREPLY=($(compgen -W "list get create start stop poweroff reboot pause resume save delete migrate" -- "$cur")) ;;
            job) COMPREPLY=($(compgen -W "list get wait cancel restart" -- "$cur")) ;;
            host) COMPREPLY=($(compgen -W "list get maintenance maintenance-exit" -- "$cur")) ;;
            connection) COMPREPLY=($(compgen -W "list get add sync delete" -- "$cur")) ;;
            schedule) COMPREPLY=($(compgen -W "list get run enable disable delete" -- "$cur")) ;;
            plan) COMPREPLY=($(compgen -W "list get approve reject" -- "$cur")) ;;
            context) COMPREPLY=($(compgen -W "list use delete" -- "$cur")) ;;
            placement) COMPREPLY=($(compgen -W "rate" -- "$cur")) ;;
            completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
            login|logout|help) ;;
            *) COMPREPLY=($(compgen -W "list get" -- "$cur")) ;;
        esac
        return
    fi
    if ((nargs == 0)); then
        case $cmd/$sub in
            vm/create|*/list|connection/add) ;;
            context/use|context/delete)
                COMPREPLY=($(compgen -W "$(polyvisor context list -o name 2>/dev/null)" -- "$cur")) ;;
            vm/*|host/*)
                COMPREPLY=($(compgen -W "$(polyvisor "$cmd" list --all --fields name -o table --no-headers 2>/dev/null | sort -u)" -- "$cur")) ;;
            job/*)
                COMPREPLY=($(compgen -W "$(polyvisor job list --filter "state in ('queued', 'running')" -o name 2>/dev/null)" -- "$cur")) ;;
        esac
    fi
}
complete -F _polyvisor polyvisor
