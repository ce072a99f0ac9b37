# The story of an event batch with "fsync=on" in a --with-debug error log:
# written, waiting for a sync, the sync started in the thread pool, done,
# the batch answered.  Skipped unless nginx is built --with-debug and
# --with-threads (Debian's nginx is both).

use Test::Nginx::Socket;

my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $v = `$bin -V 2>&1`;

if ($v !~ /--with-debug/ || $v !~ /--with-threads/) {
    plan(skip_all => "$bin is not built --with-debug and --with-threads");
}

plan('no_plan');

log_level("debug");

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n");

    $block->set_value("http_config", <<'_EOC_');
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n");
});

run_tests();

__DATA__

=== TEST 1: a batch waits for its sync, which runs in the thread pool
--- config
    location = /e {
        upbot_event_log html/d1.jsonl fsync=on;
        upbot_report_media_event;
    }
--- request eval
"POST /e\n{\"head\":{\"account_info\":{\"account_type\":1,\"appid\":\"a\",\"openid\":\"o\"}},\"items\":[{\"code\":\"x\"}]}"
--- response_body chomp
{"ret":0,"msg":""}
--- error_log eval
[
qr/upbot: written: \d+ of \d+ bytes, fd:\d+/,
qr/upbot: sync #1 of "\S+\/html\/d1\.jsonl": fd:\d+, a dup of fd:\d+/,
qr/upbot: batch waits for sync #1 of "\S+\/html\/d1\.jsonl" \(1 batches\), which starts now/,
qr/upbot: sync #1 of "\S+\/html\/d1\.jsonl" started: 1 batches, fd:\d+/,
qr/upbot: fdatasync\(\) of fd:\d+, sync #1/,
qr/upbot: sync #1 of "\S+\/html\/d1\.jsonl" done in \d+ ms: 1 batches, err:0/,
qr/upbot: batch synced by sync #1: ok/,
qr/upbot: answer ret:0 status:200/,
]
