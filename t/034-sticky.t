# upbot_sticky: a visitor (appid + openid) answered a group for a code gets
# it again while it is usable, without taking another of its max_views=;
# once it is not usable the visitor moves on like anyone else; a fallback
# is not kept; sticky=off on a row turns it off for the code.

use lib 't/lib';
use MediaInfo qw(req ans visit);
use Test::Nginx::Socket 'no_plan';

log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_sticky       ttl=7d;
    upbot_codes {
        keep    static  g1  url=https://x/keep1 max_views=2;
        keep    static  g2  url=https://x/keep2;

        move    static  g1  url=https://x/move1 max_views=1;
        move    static  g2  url=https://x/move2 max_views=5;

        apps    static  g1  url=https://x/apps1 max_views=3;
        apps    static  g2  url=https://x/apps2;

        off     static  g1  url=https://x/off1 max_views=2 sticky=off;
        off     static  g2  url=https://x/off2;

        fb      static  g1  url=https://x/fb1 max_views=1;
        fb      static  kf  url=https://x/kf fallback;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Pick $upbot_pick always;
        add_header X-Views $upbot_views always;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: a visitor keeps its group, taking no view again
--- request eval
[main::visit("keep", "A"), main::visit("keep", "A"), main::visit("keep", "A"),
 main::visit("keep", "B"), main::visit("keep", "C"), main::visit("keep", "A")]
--- response_body eval
[main::ans("https://x/keep1"), main::ans("https://x/keep1"),
 main::ans("https://x/keep1"), main::ans("https://x/keep1"),
 main::ans("https://x/keep2"), main::ans("https://x/keep2")]
--- response_headers eval
["X-Pick: first\nX-Views: 1", "X-Pick: sticky\nX-Views:",
 "X-Pick: sticky\nX-Views:", "X-Pick: first\nX-Views: 2",
 "X-Pick: switched\nX-Views:", "X-Pick: switched\nX-Views:"]



=== TEST 2: a group that is no longer usable: the visitor moves on, and keeps the next
--- request eval
[main::visit("move", "A"), main::visit("move", "A"), main::visit("move", "A"),
 main::visit("move", "B")]
--- response_body eval
[main::ans("https://x/move1"), main::ans("https://x/move2"),
 main::ans("https://x/move2"), main::ans("https://x/move2")]
--- response_headers eval
["X-Pick: first\nX-Views: 1", "X-Pick: switched\nX-Views: 1",
 "X-Pick: sticky\nX-Views:", "X-Pick: switched\nX-Views: 2"]



=== TEST 3: the same openid of another app is another visitor
--- request eval
[main::visit("apps", "A", "app1"), main::visit("apps", "A", "app2"),
 main::visit("apps", "A", "app1")]
--- response_body eval
[main::ans("https://x/apps1"), main::ans("https://x/apps1"),
 main::ans("https://x/apps1")]
--- response_headers eval
["X-Pick: first\nX-Views: 1", "X-Pick: first\nX-Views: 2",
 "X-Pick: sticky\nX-Views:"]



=== TEST 4: sticky=off on a row of the code: every answer takes a view
--- request eval
[main::visit("off", "A"), main::visit("off", "A"), main::visit("off", "A")]
--- response_body eval
[main::ans("https://x/off1"), main::ans("https://x/off1"),
 main::ans("https://x/off2")]
--- response_headers eval
["X-Pick: first\nX-Views: 1", "X-Pick: first\nX-Views: 2",
 "X-Pick: switched\nX-Views:"]



=== TEST 5: a fallback is not kept
--- request eval
[main::visit("fb", "A"), main::visit("fb", "B"), main::visit("fb", "B")]
--- response_body eval
[main::ans("https://x/fb1"), main::ans("https://x/kf"), main::ans("https://x/kf")]
--- response_headers eval
["X-Pick: first", "X-Pick: fallback", "X-Pick: fallback"]



=== TEST 6: a ttl in seconds: the group is kept within it
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_sticky       ttl=60s;
    upbot_codes {
        ttl  static  g1  url=https://x/ttl1 max_views=2;
        ttl  static  g2  url=https://x/ttl2;
    }
--- request eval
[main::visit("ttl", "A"), main::visit("ttl", "A")]
--- response_body eval
[main::ans("https://x/ttl1"), main::ans("https://x/ttl1")]
--- response_headers eval
["X-Pick: first\nX-Views: 1", "X-Pick: sticky\nX-Views:"]



=== TEST 7: upbot_sticky needs upbot_zone
--- http_config
    upbot_sticky  ttl=7d;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_sticky" needs "upbot_zone" to remember visitors, in \S+nginx\.conf:\d+/



=== TEST 8: upbot_sticky with a ttl of zero
--- http_config
    upbot_zone    upbot:1m;
    upbot_sticky  ttl=0s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "ttl=0s", expected a time of a second or more in \S+nginx\.conf:\d+/



=== TEST 9: upbot_sticky with a word it cannot place
--- http_config
    upbot_zone    upbot:1m;
    upbot_sticky  7d;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 1 of "upbot_sticky" \(not shown: it may be a secret\), expected ttl=TIME or off in \S+nginx\.conf:\d+/



=== TEST 10: upbot_sticky off
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_sticky       off;
    upbot_codes {
        plain  static  g1  url=https://x/plain;
    }
--- request eval
[main::visit("plain", "A"), main::visit("plain", "A")]
--- response_headers eval
["X-Pick: first", "X-Pick: first"]
