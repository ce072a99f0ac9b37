# upbot_attribution: an event whose code and trace id match a GetMediaInfo
# answer within the window gets "group" in its line, and a long-press
# (1110204) counts toward the group's max_scans=; no match, no group.

use lib 't/lib';
use MediaInfo qw(ans show events);
use Test::Nginx::Socket 'no_plan';

log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_attribution  window=30m;
    upbot_codes {
        a      static  g1  url=https://x/a1;
        a      static  g2  url=https://x/a2;

        scan   static  s1  url=https://x/s1 max_scans=2;
        scan   static  s2  url=https://x/s2;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
    }
    location = /e {
        upbot_event_log html/events.jsonl;
        upbot_report_media_event;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: an event of the trace shown a group gets it; others get none
--- request eval
[main::show("a", "tr-1"),
 main::events(["1110201", "a", "tr-1"], ["1110201", "a", "tr-other"],
              ["1110201", "b", "tr-1"]),
 "GET /events.jsonl"]
--- response_body_like eval
[qr/"url":"https:\/\/x\/a1"/, qr/"ret":0/,
 qr/^[^\n]*"code":"a","trace_id":"tr-1","group":"g1"\}\n[^\n]*"code":"a","trace_id":"tr-other"\}\n[^\n]*"code":"b","trace_id":"tr-1"\}\n$/]



=== TEST 2: long-presses count toward max_scans=: the group is full after two
--- request eval
[main::show("scan", "t1"), main::show("scan", "t2"),
 main::events(["1110204", "scan", "t1"], ["1110201", "scan", "t2"]),
 main::show("scan", "t3"),
 main::events(["1110204", "scan", "t2"]),
 main::show("scan", "t4"), main::show("scan", "t5")]
--- response_body eval
[main::ans("https://x/s1"), main::ans("https://x/s1"), "{\"ret\":0,\"msg\":\"\"}",
 main::ans("https://x/s1"), "{\"ret\":0,\"msg\":\"\"}",
 main::ans("https://x/s2"), main::ans("https://x/s2")]



=== TEST 3: upbot_attribution off: no group in the lines
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_attribution  off;
    upbot_codes {
        a  static  g1  url=https://x/a1;
    }
--- request eval
[main::show("a", "tr-1"), main::events(["1110201", "a", "tr-1"]),
 "GET /events.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/, qr/^[^\n]*"trace_id":"tr-1"\}\n$/]



=== TEST 4: max_scans= needs upbot_attribution
--- http_config
    upbot_zone  upbot:1m;
    upbot_codes {
        c1  static  g1  url=https://x/1 max_scans=5;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_scans=" counts long-presses tied to the group shown: it needs "upbot_attribution", in \S+nginx\.conf:\d+/



=== TEST 5: upbot_attribution needs upbot_zone
--- http_config
    upbot_attribution  on;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_attribution" needs "upbot_zone" to remember the groups shown, in \S+nginx\.conf:\d+/



=== TEST 6: upbot_attribution with a word it cannot place
--- http_config
    upbot_zone         upbot:1m;
    upbot_attribution  30m;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 1 of "upbot_attribution" \(not shown: it may be a secret\), expected on, off or window=TIME in \S+nginx\.conf:\d+/



=== TEST 7: a fallback takes no max_scans=
--- http_config
    upbot_zone         upbot:1m;
    upbot_attribution  on;
    upbot_codes {
        c1  static  g1  url=https://x/1;
        c1  static  kf  url=https://x/kf fallback max_scans=3;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_scans=" does not apply to a fallback group/
