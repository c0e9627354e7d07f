#!/usr/bin/env bash
# Decode through the GEMV kernels gives the same greedy tokens as decode
# through vec_dot (POCKET_GEMV=0): the models and cases of
# tests/test_gemm_greedy.sh.
GREEDY_SWITCH=POCKET_GEMV exec bash "$(dirname "$0")/test_gemm_greedy.sh"
