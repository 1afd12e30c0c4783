#!/usr/bin/env bash
# Regenerates every app icon from the two sources in this folder (run after editing them):
#   ferry.svg -> src-tauri/icons/* (PNG sizes, icon.icns for macOS, icon.ico) via `tauri icon`
#   tray.svg  -> src-tauri/icons/tray.png (menu-bar template icon, 44 px = 22 pt @2x)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
rsvg-convert -w 1024 -h 1024 icons/ferry.svg -o "$tmp/ferry.png"   # librsvg2-bin
npx --prefix ui tauri icon "$tmp/ferry.png" -o src-tauri/icons >/dev/null
# tauri icon also writes Android, iOS and Windows Store sets that Ferry does not ship
rm -rf src-tauri/icons/android src-tauri/icons/ios src-tauri/icons/Square*Logo.png src-tauri/icons/StoreLogo.png
rsvg-convert -w 44 -h 44 icons/tray.svg -o src-tauri/icons/tray.png
