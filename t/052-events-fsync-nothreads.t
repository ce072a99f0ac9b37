# An nginx built without threads (configure's default) has no thread pool
# to sync in: "fsync=on" fails "nginx -t", saying why, with file and line;
# fsync=off still loads.  Skipped where nginx has threads (t/051 tests it
# there); the refusal is built in under "#if !(NGX_THREADS)".

use Test::Nginx::Socket;

my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';

if (`$bin -V 2>&1` =~ /--with-threads/) {
    plan(skip_all => "$bin is built --with-threads");
}

plan('no_plan');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n");

    $block->set_value("http_config", <<'_EOC_');
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: fsync=on is refused
--- config
    location = /e {
        upbot_event_log html/n1.jsonl fsync=on;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"fsync=on" needs nginx built with threads \(--with-threads\): the sync runs in a thread pool, and this nginx has none in \S+nginx\.conf:\d+/



=== TEST 2: fsync=off loads and stores
--- config
    location = /e {
        upbot_event_log html/n2.jsonl fsync=off;
        upbot_report_media_event;
    }
--- more_headers
Content-Type: application/json
Authorization: t0k3n
--- request eval
["POST /e\n{\"head\":{\"account_info\":{\"account_type\":1,\"appid\":\"a\",\"openid\":\"o\"}},\"items\":[{\"code\":\"x\"}]}",
 "GET /n2.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"code":"x"\}\n$/]
