# max_views=: a group counts as full once it has been answered N times;
# the count is the zone's, shared by every code whose pool holds the group
# (the same source, id and url), and $upbot_views says which view an answer
# took.  The exact count across workers and reloads is t/033-views-workers.t.

use lib 't/lib';
use MediaInfo qw(req ans);
use SpreadPick qw(spread_pick);
use Test::Nginx::Socket 'no_plan';

log_level('info');

# spread: the user's own group first, then the other
our $Own = spread_pick("same-user", "s1", "s2") eq "s1" ? "sp1" : "sp2";
our $Other = $Own eq "sp1" ? "sp2" : "sp1";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_codes {
        three   static  g1  url=https://x/three1 max_views=3;
        three   static  g2  url=https://x/three2;

        both    static  g1  url=https://x/both1 max_views=1;
        both    static  g2  url=https://x/both2 max_views=2;

        # one group (source, id, url) in two pools: one count
        shareA  static  s   url=https://x/shared max_views=2;
        shareA  static  n   url=https://x/nextA;
        shareB  static  s   url=https://x/shared max_views=2;
        shareB  static  n   url=https://x/nextB;

        # the same id with another url is another group (a new QR code)
        urlA    static  u   url=https://x/qr-old max_views=1;
        urlA    static  n   url=https://x/urlA-next;
        urlB    static  u   url=https://x/qr-new max_views=1;
        urlB    static  n   url=https://x/urlB-next;

        # a threshold and a view limit: the first that says "full" wins
        mixed   static  g1  url=https://x/mixed1 members=5 threshold=5 max_views=9;
        mixed   static  g2  url=https://x/mixed2 max_views=9;

        plain   static  g1  url=https://x/plain;

        spread  static  s1  url=https://x/sp1 max_views=2;
        spread  static  s2  url=https://x/sp2 max_views=2;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Group $upbot_group always;
        add_header X-Views $upbot_views always;
    }
    location = /spread {
        upbot_pick spread;
        upbot_get_media_info;
        add_header X-Group $upbot_group always;
        add_header X-Views $upbot_views always;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: three views of g1, then g2 (which has no limit, so no count)
--- request eval
[map { main::req("three") } 1 .. 5]
--- response_body eval
[map { main::ans($_) } ("https://x/three1") x 3, ("https://x/three2") x 2]
--- response_headers eval
["X-Group: g1\nX-Views: 1", "X-Group: g1\nX-Views: 2",
 "X-Group: g1\nX-Views: 3", "X-Group: g2\nX-Views:", "X-Group: g2\nX-Views:"]



=== TEST 2: every group out of views: 1004
--- request eval
[map { main::req("both") } 1 .. 4]
--- response_body eval
[main::ans("https://x/both1"), main::ans("https://x/both2"),
 main::ans("https://x/both2"),
 "{\"ret\":1004,\"msg\":\"群已满\"}"]
--- error_code eval
[200, 200, 200, 409]
--- response_headers eval
["X-Views: 1", "X-Views: 1", "X-Views: 2", "X-Views:"]



=== TEST 3: one group in two pools has one count
--- request eval
[main::req("shareA"), main::req("shareB"), main::req("shareA"),
 main::req("shareB")]
--- response_body eval
[main::ans("https://x/shared"), main::ans("https://x/shared"),
 main::ans("https://x/nextA"), main::ans("https://x/nextB")]
--- response_headers eval
["X-Views: 1", "X-Views: 2", "X-Views:", "X-Views:"]



=== TEST 4: the same id with another url counts apart
--- request eval
[main::req("urlA"), main::req("urlB"), main::req("urlA"), main::req("urlB")]
--- response_body eval
[main::ans("https://x/qr-old"), main::ans("https://x/qr-new"),
 main::ans("https://x/urlA-next"), main::ans("https://x/urlB-next")]



=== TEST 5: a group full by its threshold takes no view
--- request eval
[main::req("mixed"), main::req("mixed")]
--- response_body eval
[main::ans("https://x/mixed2"), main::ans("https://x/mixed2")]
--- response_headers eval
["X-Group: g2\nX-Views: 1", "X-Group: g2\nX-Views: 2"]



=== TEST 6: spread: a user's group, then the other once it is out of views
--- request eval
[map { main::req("spread", "same-user", "/spread") } 1 .. 5]
--- response_headers eval
["X-Views: 1", "X-Views: 2", "X-Views: 1", "X-Views: 2", "X-Views:"]
--- response_body eval
[(map { main::ans("https://x/$main::Own") } 1 .. 2),
 (map { main::ans("https://x/$main::Other") } 1 .. 2),
 "{\"ret\":1004,\"msg\":\"群已满\"}"]
--- error_code eval
[200, 200, 200, 200, 409]



=== TEST 7: max_views= needs upbot_zone
--- http_config
    upbot_codes {
        c1  static  g1  url=https://x/1 max_views=5;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_views=" needs "upbot_zone" for its counts, in \S+nginx\.conf:\d+/



=== TEST 8: max_views=0
--- http_config
    upbot_zone  upbot:1m;
    upbot_codes {
        c1  static  g1  url=https://x/1 max_views=0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "max_views=0" in \S+nginx\.conf:\d+/



=== TEST 9: max_views= not a number
--- http_config
    upbot_zone  upbot:1m;
    upbot_codes {
        c1  static  g1  url=https://x/1 max_views=ten;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "max_views=ten" in \S+nginx\.conf:\d+/



=== TEST 10: no limit set: $upbot_views is empty, nothing is counted
--- request eval
main::req("plain")
--- config
    location = /m {
        upbot_get_media_info;
        add_header X-Views "[$upbot_views]" always;
    }
--- response_headers
X-Views: []



=== TEST 11: a fallback group takes no max_views=
--- http_config
    upbot_zone  upbot:1m;
    upbot_codes {
        c1  static  g1  url=https://x/1;
        c1  static  g2  url=https://x/2 fallback max_views=5;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_views=" does not apply to a fallback group, which is answered whatever its members in \S+nginx\.conf:\d+/



=== TEST 12: views and a fallback: the fallback once the counted groups are full
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_codes {
        fb  static  g1  url=https://x/fb1 max_views=1;
        fb  static  kf  url=https://x/kf fallback;
    }
--- config
    location = /m {
        upbot_get_media_info;
        add_header X-Pick $upbot_pick always;
        add_header X-Views $upbot_views always;
    }
--- request eval
[main::req("fb"), main::req("fb")]
--- response_body eval
[main::ans("https://x/fb1"), main::ans("https://x/kf")]
--- response_headers eval
["X-Pick: first\nX-Views: 1", "X-Pick: fallback\nX-Views:"]
