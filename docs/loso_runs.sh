#!/usr/bin/env bash
# Leave-one-source-out runs of one classifier recipe, then their table (the model card's section).
#
#   docs/loso_runs.sh OUT_DIR MANIFEST [extra fundus-train classifier options...]
#
# e.g. the shipped recipe:  docs/loso_runs.sh runs/loso-shipped ../shared/data/MANIFEST.csv \
#        --cdr-head --seg-weight 5 --balance datasets --epochs 50 --patience 60 --half
# --cdr-head (and --cdr-auxiliary) is dropped for the fold that holds out Drishti-GS1: its expert masks are the head's only
# training signal here. Runs that are already finished are kept (delete a folder to redo it).
set -euo pipefail
out=$1; manifest=$2; shift 2
mkdir -p "$out"
models=()
for source in HRF Drishti-GS1 ACRIMA; do
  args=("$@")
  if [ "$source" = "Drishti-GS1" ]; then
    filtered=(); skip=0
    for a in "${args[@]}"; do
      if [ $skip = 1 ]; then skip=0; continue; fi
      case "$a" in --cdr-head|--cdr-auxiliary) ;; --seg-weight) skip=1 ;; *) filtered+=("$a") ;; esac
    done
    args=("${filtered[@]}")
  fi
  run="$out/$source"
  if [ ! -f "$run/metrics.json" ]; then
    fundus-train classifier --data "$manifest" --out "$run" --hold-out "$source" "${args[@]}"
  fi
  models+=("$run/classifier.safetensors")
done
fundus-train loso-report --models "${models[@]}" --recipe="$*" --json "$out/loso.json"
