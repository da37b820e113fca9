#!/usr/bin/env python3
"""complete.py bash|zsh ROOT LINE...: what completion offers for each LINE.

Starts an interactive bash or zsh on a pseudo-terminal, loads fx's
completion from ROOT/completions as a user would, types each LINE and a TAB, and
prints the candidates the completion function produced, sorted, one a line (bash:
COMPREPLY; zsh: every match given to compadd, with its -P/-p/-s/-S prefix
and suffix, after zsh's own matching against the word). Errors the shell
printed while completing (a parse error in the completion) go to stderr and
make the exit status 1. The answers for successive LINEs are separated by a
line "==". The candidates come from the shell's own word
splitting (COMP_WORDS, COMP_LINE, $words, PREFIX), not from a test's guess
of it.
"""
import os
import re
import pty
import select
import sys
import tempfile
import time

BASH_INIT = r"""
PS1= PS2=
source '{root}/completions/fx.bash'
_fx_capture() {{ _fx "$@"; printf '%s\n' "${{COMPREPLY[@]}}" >'{out}.tmp'; mv '{out}.tmp' '{out}'; }}
complete -o filenames -F _fx_capture fx-consume fx-sink fx-agg fx-join fx-partition fx-lineage fx-devbroker fx-run
echo READY
"""

ZSH_INIT = r"""
PROMPT= RPROMPT=
fpath=('{root}/completions' $fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' insert-tab false
_fx_done() {{ print -r -- DONE >>'{out}.tmp'; mv '{out}.tmp' '{out}'; }}
# zsh empties comppostfuncs after each completion: set it for every TAB
_fx_tab() {{ comppostfuncs=(_fx_done); zle complete-word; }}
zle -N _fx_tab
bindkey -e
bindkey '^I' _fx_tab
compadd() {{
	# -O, -A, -D only filter into an array: no matches are added
	if [[ ${{@[1,(i)(-|--)]}} == *-(O|A|D)\ * ]]; then
		builtin compadd "$@"
		return
	fi
	local -a __hits
	builtin compadd -A __hits "$@"
	local -A apre hpre hsuf asuf
	zparseopts -E P:=apre p:=hpre S:=asuf s:=hsuf
	local h
	for h in $__hits; do
		print -r -- "$IPREFIX${{apre[-P]}}${{hpre[-p]}}$h${{hsuf[-s]}}${{asuf[-S]}}" >>'{out}.tmp'
	done
	builtin compadd "$@"
}}
echo READY
"""


def read_until(fd, marker, deadline, buf):
    while marker not in buf:
        left = deadline - time.time()
        if left <= 0:
            raise TimeoutError(buf.decode(errors="replace"))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def main():
    shell, root, lines = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3:]
    tmp = tempfile.mkdtemp(prefix="fx-complete.")
    out = os.path.join(tmp, "out")
    init = os.path.join(tmp, "init")
    with open(init, "w") as f:
        f.write((BASH_INIT if shell == "bash" else ZSH_INIT).format(root=root, out=out))
    argv = ["bash", "--norc", "--noprofile", "-i"] if shell == "bash" else ["zsh", "-f", "-i"]
    env = dict(os.environ, TERM="dumb", PATH=root + "/bin:" + os.environ["PATH"])
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    deadline = time.time() + 60
    buf = b""
    os.write(fd, (". " + init + "\n").encode())
    buf = read_until(fd, b"READY\r\n", deadline, buf)
    status = 0
    for n, line in enumerate(lines):
        if n:
            print("==")
        start = len(buf)
        os.write(fd, line.encode() + b"\t")
        while not os.path.exists(out) and time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                buf += os.read(fd, 4096)
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            buf += os.read(fd, 4096)
        screen = buf[start:].decode(errors="replace")
        if re.search(r"parse error|command not found|bad (pattern|substitution|math|option)|syntax error", screen):
            sys.stderr.write(screen.replace("\r", "") + "\n")
            status = 1
        if not os.path.exists(out):
            sys.stderr.write("complete.py: %r: the completion function did not finish\n" % line)
            status = 1
            break
        with open(out) as f:
            # sorted (codepoint order): the set of candidates is the answer
            for cand in sorted(set(f.read().splitlines()) - {"", "DONE"}):
                print(cand)
        os.unlink(out)
        # clear the line for the next one: end of line, kill to its start
        os.write(fd, b"\x05\x15")
    try:
        os.kill(pid, 9)
    except OSError:
        pass
    os.waitpid(pid, 0)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    sys.exit(status)


if __name__ == "__main__":
    main()
