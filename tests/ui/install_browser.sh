#!/bin/sh
# Install Debian's Chromium, a Chinese font and a colour-emoji font (screenshots show 汉字 and
# the 信号灯 🔴🟡🟢, not boxes) for the UI tests in tests/ui, once per machine.
#
# Playwright's own browser download ("playwright install") cannot work on these offline machines;
# Debian's package can. Needs root and apt-get; does nothing when all three are already there.
# Exit codes: 0 installed/present, 3 not root, 4 no apt-get, other: apt-get's failure.
set -eu
CHROMIUM=${DUBAN_CHROMIUM:-/usr/bin/chromium}
FONT=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
EMOJI=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
PACKAGES=""
[ -x "$CHROMIUM" ] || PACKAGES="chromium"
# any installed CJK font will do; only look for one when fontconfig is there to ask
if ! { [ -e "$FONT" ] || { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh)" ]; }; }; then
    PACKAGES="${PACKAGES:+$PACKAGES }fonts-wqy-zenhei"
fi
[ -e "$EMOJI" ] || PACKAGES="${PACKAGES:+$PACKAGES }fonts-noto-color-emoji"
if [ -z "$PACKAGES" ]; then
    echo "chromium and fonts present: $CHROMIUM"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "not root: cannot apt-get install $PACKAGES (run tests/ui/install_browser.sh as root once)" >&2
    exit 3
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get on this machine: install a Chromium and set DUBAN_CHROMIUM" >&2
    exit 4
fi
export DEBIAN_FRONTEND=noninteractive
# wait for a concurrent apt/dpkg run instead of failing on its lock
LOCK="-o DPkg::Lock::Timeout=600"
start=$(date +%s)
apt-get $LOCK update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get $LOCK install -y -q --no-install-recommends $PACKAGES
echo "installed $PACKAGES in $(( $(date +%s) - start )) s"
