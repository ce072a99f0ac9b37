# Configuration mistakes stop nginx at start (as "nginx -t" does) and name
# the file and line.  Rows in an included file have known line numbers, so
# those tests check the exact line.

use Test::Nginx::Socket 'no_plan';

log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", <<'_EOF_') unless defined $block->user_files;
>>> tokens
t0k3n  test
_EOF_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a group source that does not exist
--- http_config
    upbot_codes {
        c1  qq:prod  g1  url=https://example.com/j/g1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown group source, word 2 of the codes row \(not shown: it may be a secret\), expected "static", "tim:APP" or "yunxin:APP" in \S+nginx\.conf:\d+/



=== TEST 2: a static group without url=
--- http_config
    upbot_codes {
        c1  static  g1  name=G1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*a static group needs "url=" in \S+nginx\.conf:\d+/



=== TEST 3: an unknown option
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 colour=red;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 5 of the codes row \(not shown: it may be a secret\), expected url=, name=, background=, threshold=, members=, max_members=, max_views=, max_scans=, media_type=, expires=, hours=, sticky=off, metrics, down or fallback in \S+nginx\.conf:\d+/



=== TEST 4: a bare word that is not "down"
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 full;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 5 of the codes row \(not shown: it may be a secret\), expected url=, .* or fallback in \S+nginx\.conf:\d+/



=== TEST 5: a number that is not one
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 members=many;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "members=many" in \S+nginx\.conf:\d+/



=== TEST 6: a negative number
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 threshold=-5;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "threshold=-5" in \S+nginx\.conf:\d+/



=== TEST 7: a zero capacity
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 max_members=0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "max_members=0" in \S+nginx\.conf:\d+/



=== TEST 8: media_type zero
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 media_type=0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "media_type=0" in \S+nginx\.conf:\d+/



=== TEST 9: a row with too few words
--- http_config
    upbot_codes {
        c1  static;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid codes table row, expected "CODE SOURCE GROUP \[OPTIONS\]" in \S+nginx\.conf:\d+/



=== TEST 10: a row in an included file, exact line
--- user_files
>>> tokens
t0k3n  test
>>> codes.conf
# codes of the spring campaign
c1  static  g1  url=https://example.com/j/g1;

c2  static;
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid codes table row, .* in \S+\/html\/codes\.conf:4$/m



=== TEST 11: the same group twice in one pool names both rows
--- user_files
>>> tokens
t0k3n  test
>>> codes.conf
c1  static  g1  url=https://example.com/j/g1;
c1  static  g2  url=https://example.com/j/g2;
c2  static  g1  url=https://example.com/j/g1;
c1  static  g1  url=https://example.com/j/g1-again;
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*group "g1" appears twice in the pool of code "c1", in \S+\/html\/codes\.conf:4 and \S+\/html\/codes\.conf:1$/m



=== TEST 12: two media types in one pool
--- user_files
>>> tokens
t0k3n  test
>>> codes.conf
c1  static  g1  url=https://example.com/j/g1 media_type=2;
c1  static  g2  url=https://example.com/j/g2 media_type=3;
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*media_type=3 of code "c1" differs from media_type=2 in \S+\/html\/codes\.conf:1, in \S+\/html\/codes\.conf:2$/m



=== TEST 13: a code longer than upbot_max_code_length
--- http_config
    upbot_max_code_length  8;
    upbot_codes {
        c123456789  static  g1  url=https://example.com/j/g1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*the code is longer than 8 bytes \(upbot_max_code_length\) in \S+nginx\.conf:\d+/



=== TEST 14: the default limit is 64 bytes
--- http_config eval
"    upbot_codes {\n        " . ("x" x 65)
. "  static  g1  url=https://example.com/j/g1;\n    }\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*is longer than 64 bytes \(upbot_max_code_length\) in \S+nginx\.conf:\d+/



=== TEST 15: a code with a space in it
--- http_config
    upbot_codes {
        "c 1"  static  g1  url=https://example.com/j/g1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*the code has a space or control character in \S+nginx\.conf:\d+/



=== TEST 16: upbot_codes is an http-level block
--- http_config
--- config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_codes" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 17: upbot_max_code_length out of range
--- http_config
    upbot_max_code_length  0;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_max_code_length" directive must be between 1 and \d+ in \S+nginx\.conf:\d+/



=== TEST 18: a tokens file that does not exist
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/no-such-file;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S+\/html\/no-such-file" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 19: a tokens file with no token in it
--- user_files
>>> tokens
# nobody yet

   # still nobody
--- http_config
--- must_die
--- error_log eval
qr/\[emerg\] .*no tokens in "\S+\/html\/tokens" in \S+nginx\.conf:\d+/



=== TEST 20: the same token on two lines
--- user_files
>>> tokens
t0k3n  first
other  second
t0k3n  third
--- http_config
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate token in "\S+\/html\/tokens" line 3 in \S+nginx\.conf:\d+/



=== TEST 21: the token file's mistakes never print a token
--- user_files
>>> tokens
t0k3n  first
t0k3n  again
--- http_config
--- must_die
--- no_error_log
t0k3n



=== TEST 22: upbot_auth_tokens twice in one place
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_auth_tokens  off;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_auth_tokens" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 23: an API without tokens
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*GetMediaInfo needs "upbot_auth_tokens" \(or "upbot_auth_tokens off"\) in \S+nginx\.conf:\d+/



=== TEST 24: "upbot_auth_tokens off" is an explicit choice
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1;
    }
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  off;
    }
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"}
--- more_headers
Content-Type: application/json
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://example.com/j/g1","name":"","background":""}}



=== TEST 25: events without an event log
--- http_config
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*ReportMediaEvent needs "upbot_event_log" in \S+nginx\.conf:\d+/



=== TEST 26: a syslog event log
--- http_config
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  syslog:server=127.0.0.1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_event_log" directive takes a file path; "syslog:" targets are not supported in \S+nginx\.conf:\d+/



=== TEST 27: upbot_event_log twice in one place
--- http_config
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  logs/a.log;
        upbot_event_log  logs/b.log;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_event_log" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 28: an event log in a directory that does not exist
--- http_config
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  $TEST_NGINX_SERVER_ROOT/no/such/dir/events.log;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S+\/no\/such\/dir\/events\.log" failed/



=== TEST 29: two APIs in one location
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  logs/events.log;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_report_media_event" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 30: an API directive takes no arguments
--- http_config
--- config
    location = /m {
        upbot_get_media_info  on;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "upbot_get_media_info" directive in \S+nginx\.conf:\d+/



=== TEST 31: upbot_pick with an unknown mode
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_pick  random;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "random" in "upbot_pick", it must be "first" or "spread" in \S+nginx\.conf:\d+/



=== TEST 32: upbot_max_items zero
--- http_config
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  logs/events.log;
        upbot_max_items  0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_max_items" directive must be between 1 and 100000 in \S+nginx\.conf:\d+/



=== TEST 33: upbot_max_items not a number
--- http_config
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  logs/events.log;
        upbot_max_items  lots;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_max_items" directive invalid number in \S+nginx\.conf:\d+/



=== TEST 34: upbot_max_json_depth below the depth the APIs need
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_max_json_depth  2;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_max_json_depth" directive must be between 3 and 1024 in \S+nginx\.conf:\d+/



=== TEST 35: upbot_max_string_length not a size
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_max_string_length  long;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_max_string_length" directive invalid value in \S+nginx\.conf:\d+/



=== TEST 36: upbot_pick twice in one place
--- http_config
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_pick  first;
        upbot_pick  spread;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_pick" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 37: a live row naming an app that is not declared
--- http_config
    upbot_zone  upbot:1m;
    upbot_codes {
        c1  tim:prod  @TGS#1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown app "tim:prod" of code "c1", declare it with "upbot_tim", in \S+nginx\.conf:\d+/



=== TEST 38: a Yunxin row naming a Tencent app
--- http_config
    upbot_zone  upbot:1m;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k location=/_t;
    upbot_codes {
        c1  yunxin:prod  17889/1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown app "yunxin:prod" of code "c1", declare it with "upbot_yunxin", in \S+nginx\.conf:\d+/



=== TEST 39: live groups without a zone
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k location=/_t;
    upbot_codes {
        c1  tim:prod  @TGS#1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*live groups need "upbot_zone" for their facts, in \S+nginx\.conf:\d+/



=== TEST 40: an app without its secret
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod" has no "key=" or "key_file=" in \S+nginx\.conf:\d+/



=== TEST 41: a secret file that cannot be read
--- http_config
    upbot_yunxin  cn  appkey=AK secret_file=$TEST_NGINX_SERVER_ROOT/html/nope location=/_y/;
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S+\/html\/nope" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 42: an empty secret file
--- user_files
>>> tokens
t0k3n  test
>>> yx.secret

--- http_config
    upbot_yunxin  cn  appkey=AK secret_file=$TEST_NGINX_SERVER_ROOT/html/yx.secret location=/_y/;
--- must_die
--- error_log eval
qr/\[emerg\] .*app "yunxin:cn": "\S+\/html\/yx\.secret" is empty in \S+nginx\.conf:\d+/



=== TEST 43: both an inline secret and a secret file
--- user_files
>>> tokens
t0k3n  test
>>> tim.key
k3y
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE key_file=$TEST_NGINX_SERVER_ROOT/html/tim.key location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod" has both "key=" and "key_file=" in \S+nginx\.conf:\d+/



=== TEST 44: a mistyped option is not shown: it may be a secret
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin kye=S3CRETVALUE location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/
--- no_error_log
S3CRETVALUE



=== TEST 45: an app without its id, identifier or location
--- http_config
    upbot_tim  prod  identifier=admin key=k location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod" has no "sdkappid=" in \S+nginx\.conf:\d+/



=== TEST 46: a Tencent app without an identifier
--- http_config
    upbot_tim  prod  sdkappid=1400000000 key=k location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*app "tim:prod" has no "identifier=" in \S+nginx\.conf:\d+/



=== TEST 47: an app without a location
--- http_config
    upbot_yunxin  cn  appkey=AK secret=s;
--- must_die
--- error_log eval
qr/\[emerg\] .*app "yunxin:cn" has no "location=" in \S+nginx\.conf:\d+/



=== TEST 48: a sdkappid that is not a number
--- http_config
    upbot_tim  prod  sdkappid=abc identifier=admin key=k location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "sdkappid=\.\.\." of app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 49: the same app twice
--- http_config
    upbot_tim  prod  sdkappid=1 identifier=admin key=k location=/_t;
    upbot_tim  prod  sdkappid=2 identifier=admin key=k location=/_t;
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 50: a UserSig lifetime too short to be worth it
--- http_config
    upbot_tim  prod  sdkappid=1 identifier=admin key=k location=/_t expire=5m;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "expire=" of app "tim:prod", it must be at least 10m in \S+nginx\.conf:\d+/



=== TEST 51: a Yunxin team without its type
--- http_config
    upbot_zone  upbot:1m;
    upbot_yunxin  cn  appkey=AK secret=s location=/_y/;
    upbot_codes {
        c1  yunxin:cn  17889;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid team, word 3 of the codes row \(not shown: it may be a secret\), expected TEAM_ID\/1 or TEAM_ID\/2 in \S+nginx\.conf:\d+/



=== TEST 52: a Yunxin team type that does not exist
--- http_config
    upbot_zone  upbot:1m;
    upbot_yunxin  cn  appkey=AK secret=s location=/_y/;
    upbot_codes {
        c1  yunxin:cn  17889/3;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid team, word 3 of the codes row \(not shown: it may be a secret\)/



=== TEST 53: member counts are the provider's to say
--- http_config
    upbot_zone  upbot:1m;
    upbot_tim  prod  sdkappid=1 identifier=admin key=k location=/_t;
    upbot_codes {
        c1  tim:prod  @TGS#1  members=3;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"members=" and "max_members=" are for static groups; the provider says them for a tim:prod group in \S+nginx\.conf:\d+/



=== TEST 54: a zone without a size
--- http_config
    upbot_zone  upbot;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 1 of "upbot_zone" \(not shown: it may be a secret\), expected NAME:SIZE in \S+nginx\.conf:\d+/



=== TEST 55: a zone too small
--- http_config
    upbot_zone  upbot:4k;
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "upbot:4k" is too small in \S+nginx\.conf:\d+/



=== TEST 56: upbot_cache with an unknown parameter
--- http_config
    upbot_cache  ttl=60s fresh=10s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_cache" \(not shown: it may be a secret\), expected ttl=, stale=, lock_timeout= or retry= in \S+nginx\.conf:\d+/



=== TEST 57: upbot_cache with a ttl of zero
--- http_config
    upbot_cache  ttl=0;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "ttl=0" in \S+nginx\.conf:\d+/



=== TEST 58: a call's deadline of zero
--- http_config
    upbot_tim  prod  sdkappid=1 identifier=admin key=k location=/_t timeout=0;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "timeout=\.\.\." of app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 59: a call's deadline that is not a time
--- http_config
    upbot_yunxin  cn  appkey=a secret=s location=/_y timeout=soon;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "timeout=\.\.\." of app "yunxin:cn" in \S+nginx\.conf:\d+/



=== TEST 60: a call's deadline given twice
--- http_config
    upbot_tim  prod  sdkappid=1 identifier=admin key=k location=/_t timeout=1s timeout=2s;
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate "timeout=" of app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 61: expires= with a month that does not exist
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 expires=2027-13-01T10:00:00+08:00;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "expires=2027-13-01T10:00:00\+08:00": the month must be 01 to 12 in \S+nginx\.conf:\d+/



=== TEST 62: expires= on the 29th of February of a common year
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 expires=2027-02-29T10:00:00Z;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "expires=2027-02-29T10:00:00Z": no such day in that month in \S+nginx\.conf:\d+/



=== TEST 63: expires= without an offset
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 expires=2027-12-08T10:00:00;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "expires=2027-12-08T10:00:00": expected an offset: \+HH:MM, -HH:MM or Z in \S+nginx\.conf:\d+/



=== TEST 64: expires= with an offset beyond 14 hours
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 expires=2027-12-08T10:00:00+14:30;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "expires=2027-12-08T10:00:00\+14:30": an offset is at most 14:00 in \S+nginx\.conf:\d+/



=== TEST 65: expires= that is not a time
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 expires=next-week;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "expires=next-week": expected YYYY-MM-DDThh:mm:ss and an offset \(\+HH:MM or Z\), or unix seconds in \S+nginx\.conf:\d+/



=== TEST 66: a row expired at load is a warning, with the time it was read as
The warning does not stop nginx: the mistake of the next row does, to show
the log of that load.
--- user_files
>>> tokens
t0k3n  test
>>> codes.conf
c1  static  g1  url=https://example.com/j/g1 expires=2020-02-29T12:00:00+08:00;
c1  static  g2  url=https://example.com/j/g2 expires=1582948800;
c1  static  g3  url=https://example.com/j/g3 expires=4102444800;
c2  static;
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
--- must_die
--- error_log eval
[
qr/\[warn\] .*the group has expired: "expires=2020-02-29T12:00:00\+08:00" \(unix time 1582948800\) has passed, it is never answered in \S+\/html\/codes\.conf:1$/m,
qr/\[warn\] .*the group has expired: "expires=1582948800" \(unix time 1582948800\) has passed, it is never answered in \S+\/html\/codes\.conf:2$/m,
qr/\[emerg\] .*invalid codes table row, .* in \S+\/html\/codes\.conf:4$/m,
]
--- no_error_log
codes.conf:3



=== TEST 67: hours= with an empty window
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 hours=09:00-09:00;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "hours=09:00-09:00": the window is empty in \S+nginx\.conf:\d+/



=== TEST 68: hours= that is not HH:MM-HH:MM
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 hours=9-17;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "hours=9-17": expected HH:MM-HH:MM in \S+nginx\.conf:\d+/



=== TEST 69: hours= past the end of the day
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 hours=22:00-24:30;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "hours=22:00-24:30": the hour must be 00 to 23 in \S+nginx\.conf:\d+/



=== TEST 70: a fallback with a threshold
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 threshold=190 fallback;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"threshold=" does not apply to a fallback group, which is answered whatever its members in \S+nginx\.conf:\d+/



=== TEST 71: a fallback with a capacity
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 fallback max_members=200;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"max_members=" does not apply to a fallback group, which is answered whatever its members in \S+nginx\.conf:\d+/



=== TEST 72: a fallback with a member count
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 fallback members=3;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"members=" does not apply to a fallback group, which is answered whatever its members in \S+nginx\.conf:\d+/



=== TEST 73: two fallbacks in one pool name both rows
--- user_files
>>> tokens
t0k3n  test
>>> codes.conf
c1  static  cs1  url=https://example.com/j/cs1 fallback;
c1  static  g1   url=https://example.com/j/g1;
c2  static  cs1  url=https://example.com/j/cs1 fallback;
c1  static  cs2  url=https://example.com/j/cs2 fallback;
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*two fallback groups in the pool of code "c1", in \S+\/html\/codes\.conf:4 and \S+\/html\/codes\.conf:1$/m



=== TEST 74: upbot_time_offset that is not an offset
--- http_config
    upbot_time_offset  +8;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "\+8" in "upbot_time_offset": expected an offset: \+HH:MM, -HH:MM or Z in \S+nginx\.conf:\d+/



=== TEST 75: upbot_time_offset beyond 14 hours
--- http_config
    upbot_time_offset  -15:00;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "-15:00" in "upbot_time_offset": an offset is at most 14:00 in \S+nginx\.conf:\d+/



=== TEST 76: upbot_time_offset twice
--- http_config
    upbot_time_offset  +08:00;
    upbot_time_offset  Z;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_time_offset" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 77: upbot_time_offset is an http-level directive
--- config
    upbot_time_offset  +00:00;
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_time_offset" directive is not allowed here in \S+nginx\.conf:\d+/
