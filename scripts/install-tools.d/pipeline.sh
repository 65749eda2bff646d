#!/usr/bin/env bash
# The pipeline's step scripts (scripts/pipeline/*.sh, issue 14) read and write JSON with jq, and
# push promotion commits with git. (cosign and trivy are engines: tools/engines.tsv.)
APT_PACKAGES+=(jq git)
