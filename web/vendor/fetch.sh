#!/bin/sh
# Re-creates web/vendor/ from the npm registry: each package at its pinned version, only the
# built browser files the page, /docs and /redoc load, with the package's licence beside them.
# There is no build step: the files are served as they are. To upgrade a library, change its
# version here, run this script, update the paths in web/ (index.html, markdown.js) and in
# pages.py, and run the browser tests.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# vendor DIR PACKAGE VERSION FILE...: into DIR-VERSION/; FILE is a path inside the package, and
# a folder (fonts/) gives its woff2 files, the one format every current browser loads first.
vendor() {
  dir="$1-$3" package=$2 version=$3
  shift 3
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  mkdir -p "$work/$dir" && tar xzf "$work"/*"$(basename "$package")-$version.tgz" -C "$work/$dir"
  rm -rf "$dir" && mkdir -p "$dir"
  for file in "$@"; do
    case $file in
    */) mkdir -p "$dir/$(basename "$file")" && cp "$work/$dir/package/$file"*.woff2 "$dir/$(basename "$file")/" ;;
    *) cp "$work/$dir/package/$file" "$dir/" ;;
    esac
  done
}

vendor markdown-it markdown-it 15.0.3 dist/browser/markdown-it.umd.min.js LICENSE
vendor markdown-it-texmath markdown-it-texmath 1.0.0 texmath.js license.txt
vendor katex katex 0.19.1 dist/katex.min.js dist/katex.min.css dist/fonts/ LICENSE
vendor highlight.js @highlightjs/cdn-assets 11.12.0 highlight.min.js LICENSE
vendor dompurify dompurify 3.5.0 dist/purify.min.js LICENSE
vendor swagger-ui-dist swagger-ui-dist 5.35.0 swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE
# 2.x, the major version FastAPI's get_redoc_html is written for.
vendor redoc redoc 2.5.4 bundles/redoc.standalone.js LICENSE
echo "vendored into $(pwd)"
