# TAP output for the bash tests in tests/tap (run by prove). Source it.
#   tap_ok STATUS DESCRIPTION      ok / not ok (STATUS 0 is ok)
#   tap_checks COMMAND ...         runs COMMAND; its "PASS x" / "FAIL x" / "SKIP x" lines
#                                  become ok / not ok / skipped tests, the rest comments
#   tap_done                       the plan; exits 1 when a test failed
TAP_N=0
TAP_FAILED=0
tap_ok() {
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then echo "ok $TAP_N - $2"; else echo "not ok $TAP_N - $2"; TAP_FAILED=$((TAP_FAILED + 1)); fi
}
tap_checks() {
    local line status
    while IFS= read -r line; do
        case "$line" in
            "PASS "*) tap_ok 0 "${line#PASS }" ;;
            "FAIL "*) tap_ok 1 "${line#FAIL }" ;;
            "SKIP "*) TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # skip ${line#SKIP }" ;;
            "EXIT 0") ;;
            "EXIT "*) tap_ok 1 "$1 exited with status ${line#EXIT }" ;;
            "# "*) echo "$line" ;;
            *) echo "# $line" ;;
        esac
    done < <("$@" 2>&1; echo "EXIT $?")
}
tap_done() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}
