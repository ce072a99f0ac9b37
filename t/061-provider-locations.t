# A provider app's calls go to its "location=": every server that serves
# GetMediaInfo must have that location, with a proxy_pass, and nothing else
# may catch its URI (a regex, a catch-all that proxies elsewhere), or
# nginx -t fails and names the server's GetMediaInfo location.

use Test::Nginx::Socket 'no_plan';

log_level('info');
no_root_location();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n  test\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim     prod  sdkappid=1400000000 identifier=admin key=k location=/_upbot/tim;
    upbot_yunxin  cn    appkey=AK secret=s location=/_upbot/yunxin/;
_EOC_

    $block->set_value("request", "GET /ok") unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: both locations where the calls go
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { internal; proxy_pass http://127.0.0.1:1/tim; }
    location /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:1/teams/; }
    location = /ok { return 200 "ok\n"; }
--- response_body
ok



=== TEST 2: the Tencent location missing (renamed)
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim2 { internal; proxy_pass http://127.0.0.1:1/tim; }
    location /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:1/teams/; }
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod": no location "\/_upbot\/tim" in the server of upbot_get_media_info in \S+nginx\.conf:\d+ \(its calls would be served as static files\)/



=== TEST 3: a catch-all that proxies elsewhere would take the call
--- config
    location = /m { upbot_get_media_info; }
    location / { proxy_pass http://127.0.0.1:1/; }
    location /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:1/teams/; }
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod": no location "\/_upbot\/tim" in the server of upbot_get_media_info in \S+nginx\.conf:\d+ \(its calls would go to location "\/"\)/



=== TEST 4: a regex location wins over the prefix location
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { internal; proxy_pass http://127.0.0.1:1/tim; }
    location /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:1/teams/; }
    location ~ /\d+$ { proxy_pass http://127.0.0.1:1; }
--- must_die
--- error_log eval
qr/\[emerg\] .*app "yunxin:cn": no location "\/_upbot\/yunxin\/" in the server of upbot_get_media_info in \S+nginx\.conf:\d+ \(its calls would go to location "\/\\d\+\$"\)/



=== TEST 5: "^~" keeps regex locations away
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { internal; proxy_pass http://127.0.0.1:1/tim; }
    location ^~ /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:1/teams/; }
    location ~ /\d+$ { proxy_pass http://127.0.0.1:1; }
    location = /ok { return 200 "ok\n"; }
--- response_body
ok



=== TEST 6: the location without a proxy_pass
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { internal; }
    location /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:1/teams/; }
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod": location "\/_upbot\/tim" in the server of upbot_get_media_info in \S+nginx\.conf:\d+ has no proxy_pass/



=== TEST 7: nested locations, and "location=" without the trailing slash
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim     prod  sdkappid=1400000000 identifier=admin key=k location=/_upbot/tim;
    upbot_yunxin  cn    appkey=AK secret=s location=/_upbot/yunxin;
--- config
    location = /m { upbot_get_media_info; }
    location /_upbot/ {
        internal;
        location /_upbot/tim { proxy_pass http://127.0.0.1:1/tim; }
        location /_upbot/yunxin/ { proxy_pass http://127.0.0.1:1/teams/; }
    }
    location = /ok { return 200 "ok\n"; }
--- response_body
ok



=== TEST 8: a location that clients can reach is a warning
The warning is written while the configuration loads, before any request,
so a second app's mistake stops nginx to show the log of that load.
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { proxy_pass http://127.0.0.1:1/tim; }
--- must_die
--- error_log eval
[
qr/\[warn\] .*app "tim:prod": location "\/_upbot\/tim" in the server of upbot_get_media_info in \S+nginx\.conf:\d+ is not "internal", so clients can reach it/,
qr/\[emerg\] .*app "yunxin:cn": no location "\/_upbot\/yunxin\/"/,
]



=== TEST 9: every server that serves GetMediaInfo is checked
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k location=/_upbot/tim;

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/other.sock;

        location = /m2 { upbot_get_media_info; }
    }
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { internal; proxy_pass http://127.0.0.1:1/tim; }
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod": no location "\/_upbot\/tim" in the server of upbot_get_media_info in \S+nginx\.conf:\d+ /



=== TEST 10: a server without GetMediaInfo needs no provider location
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k location=/_upbot/tim;

    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/other.sock;

        location = /m2 { return 204; }
    }
--- config
    location = /m { upbot_get_media_info; }
    location = /_upbot/tim { internal; proxy_pass http://127.0.0.1:1/tim; }
    location = /ok { return 200 "ok\n"; }
--- response_body
ok
