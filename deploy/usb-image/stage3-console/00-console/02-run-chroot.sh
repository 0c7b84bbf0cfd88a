#!/usr/bin/env bash
# The console font with a few more names for glyphs it has. Textual draws input fields and
# scrollbars with Unicode block elements (▁ ▔ ▊ ▎ ...), which no Debian console font holds: the
# console would show ♦ for each. Each is given to the nearest glyph the font has (_ ¯ █ │), as
# a copy of the font with an extended Unicode table, named in /etc/default/console-setup.
set -euo pipefail
# shellcheck source=/dev/null
. /etc/default/console-setup
source_font="/usr/share/consolefonts/$CODESET-$FONTFACE${FONTSIZE#8x}.psf.gz"
font="/usr/share/consolefonts/$CODESET-$FONTFACE${FONTSIZE#8x}-fieldkit.psf.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zcat "$source_font" > "$work/font.psf"
psfxtable -i "$work/font.psf" -ot "$work/table"
# glyph of the character in $1 gets the extra names $2...
alias_glyph() {
    local target=$1
    shift
    grep -qi "[[:space:]]U+$target\\b" "$work/table" || { echo "no U+$target in $source_font" >&2; exit 1; }
    sed -i "/[[:space:]]U+$target\\b/I s/\$/ $(printf 'U+%s ' "$@" | sed 's/ $//')/" "$work/table"
}
alias_glyph 005f 2581                                   # ▁ lower eighth: _
alias_glyph 00af 2594                                   # ▔ upper eighth: ¯
alias_glyph 2588 2589 258a 258b 258c 2590 2582 2583 2584 2585 2586 2587  # wide blocks: █
alias_glyph 2502 258d 258e 258f 2595                   # thin blocks: │
psfxtable -i "$work/font.psf" -it "$work/table" -o "$work/fieldkit.psf"
gzip -9n < "$work/fieldkit.psf" > "$font"
sed -i '/^FONT=/d; /^# FONT: /d' /etc/default/console-setup
echo "# FONT: $CODESET-$FONTFACE${FONTSIZE#8x} with Textual's block elements (stage3-console/00-console)" >> /etc/default/console-setup
echo "FONT=\"$(basename "$font")\"" >> /etc/default/console-setup
