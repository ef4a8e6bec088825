#!/bin/sh
# Writes the man pages of `recur` and every command and sub-command it lists
# (recur.1, recur-lm.1, recur-lm-train.1, ...) into OUTDIR, made from the
# --help texts, so the pages say what the program says.
#   usage: make_man.sh RECUR OUTDIR
set -eu
recur=$1
out=$2
mkdir -p "$out"
version=$("$recur" --version | awk '{print $2}')

# help text on stdin -> roff on stdout; $1 the page's name ("recur-lm-train"),
# $2 its one-line summary (from the parent's list of commands)
to_roff() {
    awk -v name="$1" -v summary="${2:-}" -v version="$version" '
    function esc(s) { gsub(/\\/, "\\e", s); gsub(/^\./, "\\\\\\&.", s); gsub(/^'"'"'/, "\\\\\\&'"'"'", s); return s }
    function flush_item() { if (item != "") { print ".TP"; print esc(item); if (desc != "") print esc(desc); item = ""; desc = "" } }
    BEGIN {
        upper = toupper(name); cmd = name; gsub(/-/, " ", cmd)
        printf ".TH %s 1 \"\" \"recur %s\" \"recur manual\"\n", upper, version; sect = ""
        print ".SH NAME"; print esc(name) " \\- " esc(summary != "" ? summary : cmd) }
    /^usage: / { flush_item(); sub(/^usage: /, ""); print ".SH SYNOPSIS"; print ".B " esc($0); next }
    NR == 1 { next } # a title line, said by NAME
    /^(options|commands):$/ { flush_item(); sect = $1; sub(/:$/, "", sect); print ".SH " toupper(sect); next }
    /^$/ { flush_item(); if (sect == "" && started) print ".PP"; next }
    sect != "" && /^  [^ ]/ {
        flush_item(); line = $0; sub(/^  /, "", line)
        if (match(line, /  +/)) { item = substr(line, 1, RSTART - 1); desc = substr(line, RSTART + RLENGTH) }
        else { item = line; desc = "" }
        next }
    sect != "" && /^   +/ { line = $0; sub(/^ +/, "", line); desc = desc == "" ? line : desc " " line; next }
    {
        flush_item()
        if (sect == "" && !started) { print ".SH DESCRIPTION"; started = 1 }
        else if (sect != "") { print ".PP"; sect = "" }
        print esc($0) }
    END { flush_item() }'
}

# the commands listed under "commands:" in a help text
commands_of() {
    awk '/^commands:$/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }'
}

# the summary of command $2 in help text $1
summary_of() {
    printf '%s\n' "$1" | awk -v c="$2" '/^commands:$/ { on = 1; next } /^$/ { on = 0 }
        on && $1 == c { sub(/^  [^ ]+ +/, ""); print; exit }'
}

top=$("$recur" --help)
printf '%s\n' "$top" | to_roff recur "recurrent neural networks" > "$out/recur.1"
for c in $(printf '%s\n' "$top" | commands_of); do
    help=$("$recur" "$c" --help)
    printf '%s\n' "$help" | to_roff "recur-$c" "$(summary_of "$top" "$c")" > "$out/recur-$c.1"
    for s in $(printf '%s\n' "$help" | commands_of); do
        "$recur" "$c" "$s" --help | to_roff "recur-$c-$s" "$(summary_of "$help" "$s")" > "$out/recur-$c-$s.1"
    done
done
