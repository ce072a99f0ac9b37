# Warm restarts: "upbot_zone ... state=FILE".  nginx starts on a state file
# written here by t/lib/StateFile.pm (the format of
# src/ngx_http_upbot_state.h, made on its own): facts younger than ttl are
# answered at once (HIT) with no provider call, older ones are answered
# while refreshed in the background (UPDATING), those past ttl + stale and
# those of groups this configuration has not are skipped and counted; a
# corrupt, truncated, other-version or unreadable file is one line in the
# error log and an empty cache, never a failed start.  Then what nginx
# writes: the facts, no secret.  The options' mistakes fail nginx -t.
#
# A block's file is made when the block runs: its "state" section is the
# entries (their "age" in seconds), "state_bytes" how to spoil the file.
# "pace" makes the page beside it, where every nginx of the state file
# keeps the apps' latest calls (src/ngx_http_upbot_pace.c): not upbot's,
# or with times far ahead.

use lib 't/lib';
use MockIM;
use StateFile;
use Test::Nginx::Socket 'no_plan';

log_level('info');

our %Groups = (
    '@TGS#a' => { Name => 'A', MemberNum => 5, MaxMemberNum => 200,
                  AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/a' }] },
    '@TGS#b' => { Name => 'B', MemberNum => 5, MaxMemberNum => 200 },
    '@TGS#g' => { Name => 'G', MemberNum => 5, MaxMemberNum => 200 },
);

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => \%Groups },
});

sub req {
    my $code = shift;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t-state\"}";
}

sub pause { "POST /mock/sleep\n{\"ms\":" . shift() . "}" }

# the file's own facts for @TGS#a: not what the mock says
our %FileA = (key => 'tim:prod @TGS#a', name => 'from-file',
              url => 'https://join.example.com/file-a', members => 7,
              max_members => 200);

our $FromFile = qr/"url":"https:\/\/join\.example\.com\/file-a","name":"from-file"/;
our $FromMock = qr/"url":"https:\/\/join\.example\.com\/a","name":"A"/;
our $NoCalls = qr/\A\z/;
our $OneCall = qr/\A[^\n]*\n\z/;

# the file, spoiled as the block says
sub state_file {
    my $block = shift;
    my $bytes = StateFile::encode(entries => $block->state // [],
                                  version => $block->state_version // 1);
    my $how = $block->state_bytes // '';

    if ($how eq 'flip-payload') {
        substr($bytes, -3, 1) ^= "\x01";
    } elsif ($how eq 'flip-header') {
        substr($bytes, 12, 1) ^= "\x01";
    } elsif ($how eq 'truncated') {
        substr($bytes, -5) = '';
    } elsif ($how eq 'text') {
        $bytes = "tim:prod \@TGS#a from-file\n";
    } elsif ($how eq 'empty') {
        $bytes = '';
    }

    return $bytes;
}

# the page of the block's "pace": 256 slots of a key and a time, 64 bits
# each, slot 0 upbot's mark
sub pace_file {
    my $how = shift;

    return "not a pace file\n" x 300 if $how eq 'garbage';

    # every slot free, with a time far ahead of the monotonic clock, as a
    # page of before a reboot may have
    return "upbpace1" . pack("Q<", 0)
           . pack('Q<Q<', 0, 1 << 62) x 255 if $how eq 'ahead';

    die "pace: $how?";
}

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    my $cache = $block->cache // "ttl=60s stale=60s";
    my $zone = $block->zone // "upbot:1m state=\$TEST_NGINX_SERVER_ROOT/html/upbot.state";

    $block->set_value("user_files", [["tokens", "t0k3n\n"],
                                     ["upbot.state", state_file($block)],
                                     $block->pace
                                     ? ["upbot.state.pace",
                                        pace_file($block->pace)]
                                     : ()])
        unless defined $block->user_files;

    $block->set_value("http_config", <<"_EOC_") unless defined $block->http_config;
    upbot_zone  $zone;
    upbot_cache  $cache;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;
    upbot_codes {
        c1  tim:prod  \@TGS#a;

        c2  tim:prod  \@TGS#g;
        c2  tim:prod  \@TGS#b;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
        add_header X-Group $upbot_group always;
    }

    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
    }

    # the error log so far, and the state file as nginx has written it
    location = /error.log {
        alias $TEST_NGINX_SERVER_ROOT/logs/error.log;
        default_type text/plain;
    }

    location = /state {
        alias $TEST_NGINX_SERVER_ROOT/html/upbot.state;
        default_type application/octet-stream;
    }

    location = /pace {
        alias $TEST_NGINX_SERVER_ROOT/html/upbot.state.pace;
        default_type application/octet-stream;
    }

    location = /calls {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/_mock/calls;
    }

    location /mock/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/_mock/;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n");
});

run_tests();

__DATA__

=== TEST 1: facts younger than ttl: the first request is a HIT from the file, and the provider is not called
--- state eval
[{ %::FileA, age => 5 }]
--- request eval
[main::req("c1"), "GET /calls", "GET /error.log"]
--- response_body_like eval
[$::FromFile, $::NoCalls,
 qr/\[notice\] [^\n]*upbot: loaded 1 facts from "\S+\/html\/upbot\.state", skipped 0 \(0 not live groups of this configuration, 0 older than ttl \+ stale, 0 for want of room in the zone, 0 repeated\); the file was written \d+ s before/]
--- response_headers eval
["X-Cache: HIT", "", ""]



=== TEST 2: facts past ttl keep their age: answered at once (UPDATING) and refreshed in the background, one call
--- state eval
[{ %::FileA, age => 90 }]
--- request eval
[main::req("c1"), main::pause(300), main::req("c1"), "GET /calls"]
--- response_body_like eval
[$::FromFile, qr/ok/, $::FromMock, $::OneCall]
--- response_headers eval
["X-Cache: UPDATING", "", "X-Cache: HIT", ""]



=== TEST 3: facts past ttl + stale are skipped: the first request fetches them (MISS)
--- state eval
[{ %::FileA, age => 150 }]
--- request eval
[main::req("c1"), "GET /calls", "GET /error.log"]
--- response_body_like eval
[$::FromMock, $::OneCall,
 qr/upbot: loaded 0 facts from "\S+", skipped 1 \(0 not live groups of this configuration, 1 older than ttl \+ stale, 0 for want/]
--- response_headers eval
["X-Cache: MISS", "", ""]



=== TEST 4: a file of another configuration (a group gone from the codes, an app renamed): only what still matches is loaded
--- state eval
[{ %::FileA, age => 5 },
 { key => 'tim:prod @TGS#removed', name => 'x', age => 5 },
 { key => 'tim:old @TGS#a', name => 'renamed', age => 5 },
 { key => 'yunxin:prod @TGS#a', name => 'other provider', age => 5 }]
--- request eval
[main::req("c1"), "GET /calls", "GET /error.log"]
--- response_body_like eval
[$::FromFile, $::NoCalls,
 qr/upbot: loaded 1 facts from "\S+", skipped 3 \(3 not live groups of this configuration, 0 older than ttl \+ stale/]
--- response_headers eval
["X-Cache: HIT", "", ""]



=== TEST 5: a gone group stays gone: its pool answers the next group, from the file too
--- state eval
[{ key => 'tim:prod @TGS#g', gone => 1, age => 5 },
 { key => 'tim:prod @TGS#b', name => 'B from file', members => 3, max_members => 200, age => 5 }]
--- request eval
[main::req("c2"), "GET /calls"]
--- response_body_like eval
[qr/"name":"B from file"/, $::NoCalls]
--- response_headers eval
["X-Cache: HIT\nX-Group: \@TGS#b", ""]



=== TEST 6: a full group in the file is full: the pool moves on without a call
--- state eval
[{ key => 'tim:prod @TGS#g', name => 'G full', members => 200, max_members => 200, age => 5 },
 { key => 'tim:prod @TGS#b', name => 'B from file', members => 3, max_members => 200, age => 5 }]
--- request eval
[main::req("c2"), "GET /calls"]
--- response_body_like eval
[qr/"name":"B from file"/, $::NoCalls]
--- response_headers eval
["X-Group: \@TGS#b", ""]



=== TEST 7: a corrupt payload (its checksum): ignored with one warning, the cache starts empty, nginx serves
--- state eval
[{ %::FileA, age => 5 }]
--- state_bytes: flip-payload
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- response_headers
X-Cache: MISS
--- error_log eval
qr/\[warn\] .*upbot: the state file "\S+\/html\/upbot\.state" is ignored: its checksum does not match; the cache starts empty/
--- no_error_log
[error]
[alert]
[crit]



=== TEST 8: a corrupt header
--- state eval
[{ %::FileA, age => 5 }]
--- state_bytes: flip-header
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- error_log eval
qr/\[warn\] .*upbot: the state file "\S+" is ignored: its header's checksum does not match; the cache starts empty/



=== TEST 9: a truncated file
--- state eval
[{ %::FileA, age => 5 }]
--- state_bytes: truncated
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- error_log eval
qr/\[warn\] .*upbot: the state file "\S+" is ignored: truncated; the cache starts empty/



=== TEST 10: a file of another format version
--- state eval
[{ %::FileA, age => 5 }]
--- state_version: 2
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- error_log eval
qr/\[warn\] .*upbot: the state file "\S+" is ignored: format version 2, this nginx reads version 1; the cache starts empty/



=== TEST 11: a file that is not a state file
--- state_bytes: text
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- error_log eval
qr/\[warn\] .*upbot: the state file "\S+" is ignored: not an upbot state file; the cache starts empty/



=== TEST 12: an empty file
--- state_bytes: empty
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- error_log eval
qr/\[warn\] .*upbot: the state file "\S+" is ignored: empty; the cache starts empty/



=== TEST 13: no file yet (a first start): a notice, nothing more
--- zone: upbot:1m state=$TEST_NGINX_SERVER_ROOT/html/missing.state
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- error_log eval
qr/\[notice\] .*upbot: no state file "\S+\/html\/missing\.state" yet; the cache starts empty/
--- no_error_log
[warn]



=== TEST 14: a directory where the file should be: not read, and each write fails with an error line, never a failed request
--- zone: upbot:1m state=$TEST_NGINX_SERVER_ROOT/html/dir state_interval=1s
--- user_files eval
[["tokens", "t0k3n\n"], ["dir/x", ""]]
--- request eval
[main::req("c1"), main::pause(1500), main::req("c1"), "GET /error.log"]
--- response_body_like eval
[$::FromMock, qr/ok/, $::FromMock,
 qr/\[warn\] [^\n]*upbot: the state file "\S+\/html\/dir" is ignored: not a file; the cache starts empty.*\[error\] [^\n]*upbot: the state file "\S+\/html\/dir" was not written: rename\(\) "\S+\/html\/dir\.tmp-\d+" failed \(21: Is a directory\)/s]
--- response_headers eval
["X-Cache: MISS", "", "X-Cache: HIT", ""]



=== TEST 15: what nginx writes: the facts it has, every state_interval, and no secret (key, UserSig, token)
--- zone: upbot:1m state=$TEST_NGINX_SERVER_ROOT/html/upbot.state state_interval=1s
--- state_bytes: empty
--- request eval
[main::req("c1"), main::req("c2"), main::pause(1500), "GET /state"]
--- response_body_like eval
[$::FromMock, qr/"name":"G"/, qr/ok/,
 qr/\A(?!.*(?:tim-test-key|usersig|TLS\.|t0k3n|1400000000|admin))upbotst\n\x01\0\0\0[\x02\x03]\0\0\0.*tim:prod \@TGS#a.*https:\/\/join\.example\.com\/a/s]



=== TEST 16: a zone that fills stops the load: the rest are counted, nginx serves
--- http_config eval
"    upbot_zone  upbot:32k state=\$TEST_NGINX_SERVER_ROOT/html/upbot.state;
    upbot_cache  ttl=60s stale=60s;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;
    upbot_codes {
        c1  tim:prod  \@TGS#a;
" . CORE::join('', map { "        z$_  tim:prod  \@TGS#z$_;\n" } 1 .. 100) . "    }
"
--- state eval
[{ %::FileA, age => 5 },
 map { { key => "tim:prod \@TGS#z$_", name => 'n' x 1000, age => 5 } } 1 .. 100]
--- request eval
main::req("c1")
--- response_body_like eval
$::FromFile
--- error_log eval
qr/\[notice\] .*upbot: loaded (\d|[1-9]\d) facts from "\S+", skipped ([1-9]\d) \(0 not live groups of this configuration, 0 older than ttl \+ stale, [1-9]\d for want of room in the zone, 0 repeated\)/
--- no_error_log
[alert]
[crit]



=== TEST 17: state_interval= without state=
--- http_config
    upbot_zone  upbot:1m state_interval=10s;
--- must_die
--- error_log eval
qr/\[emerg\] .*"state_interval=" of "upbot_zone" needs "state=" in \S+nginx\.conf:\d+/



=== TEST 18: an empty state=
--- http_config
    upbot_zone  upbot:1m state=;
--- must_die
--- error_log eval
qr/\[emerg\] .*empty file in "state=" of "upbot_zone" in \S+nginx\.conf:\d+/



=== TEST 19: a state_interval= that is not a time
--- http_config
    upbot_zone  upbot:1m state=logs/upbot.state state_interval=often;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "state_interval=often", expected a time of a second or more in \S+nginx\.conf:\d+/



=== TEST 20: a state_interval= under a second
--- http_config
    upbot_zone  upbot:1m state=logs/upbot.state state_interval=500ms;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value in "state_interval=500ms", expected a time of a second or more in \S+nginx\.conf:\d+/



=== TEST 21: state= twice
--- http_config
    upbot_zone  upbot:1m state=logs/a.state state=logs/b.state;
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate "state=" in "upbot_zone" in \S+nginx\.conf:\d+/



=== TEST 22: state_interval= twice
--- http_config
    upbot_zone  upbot:1m state=logs/a.state state_interval=5s state_interval=6s;
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate "state_interval=" in "upbot_zone" in \S+nginx\.conf:\d+/



=== TEST 23: a word upbot_zone cannot place
--- http_config
    upbot_zone  upbot:1m stat=logs/a.state;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_zone" \(not shown: it may be a secret\), expected state= or state_interval= in \S+nginx\.conf:\d+/



=== TEST 24: a state file in a directory that is not there: a warning (nginx starts), with the file and line
--- http_config
    upbot_zone  upbot:1m state=/nonexistent-upbot-dir/upbot.state;
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/\[warn\] .*the directory "\/nonexistent-upbot-dir\/" of the state file is not there: the facts cannot be written in \S+nginx\.conf:\d+/



=== TEST 25: the apps' pace is kept beside the state file, in a page of 4096 bytes, for every nginx of that file (a binary upgrade's two)
--- request eval
[main::req("c1"), "GET /calls", "GET /pace"]
--- response_body_like eval
[$::FromMock, $::OneCall, qr/\Aupbpace1/]
--- response_headers eval
["X-Cache: MISS", "", "Content-Length: 4096"]
--- no_error_log
[warn]
[error]



=== TEST 26: a pace file that is not upbot's: one warning, and the calls are paced by this nginx alone
--- pace: garbage
--- request eval
main::req("c1")
--- response_body_like eval
$::FromMock
--- response_headers
X-Cache: MISS
--- error_log eval
qr/\[warn\] .*upbot: "\S+\/html\/upbot\.state\.pace" is not an upbot pace file: calls are paced by this nginx alone/
--- no_error_log
[error]



=== TEST 27: a pace file whose times are far ahead (written before the host rebooted, when the monotonic clock began again): no slot is that far, the call is made at once
--- pace: ahead
--- request eval
[main::req("c1"), "GET /calls"]
--- response_body_like eval
[$::FromMock, $::OneCall]
--- response_headers eval
["X-Cache: MISS", ""]
--- no_error_log
[warn]
[error]



=== TEST 28: a worker writes the file 512 groups a turn of its event loop, so that it answers between them: 1,200 groups, three chunks, every one in the file
--- log_level: debug
--- http_config eval
"    upbot_zone  upbot:4m state=\$TEST_NGINX_SERVER_ROOT/html/upbot.state state_interval=1s;
    upbot_cache  ttl=60s stale=60s;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;
    upbot_codes {
" . CORE::join('', map { "        w$_  tim:prod  \@TGS#w$_;\n" } 1 .. 1200) . "    }
"
--- state eval
[map { { key => "tim:prod \@TGS#w$_", name => "w$_", age => 5 } } 1 .. 1200]
--- request eval
[main::req("w1200"), main::pause(1500), "GET /state", "GET /error.log"]
--- response_body_like eval
[qr/"name":"w1200"/, qr/ok/,
 qr/\Aupbotst\n\x01\0\0\0\xb0\x04\0\0.*tim:prod \@TGS#w1200w1200/s,
 qr/state file: 512 facts, \d+ bytes so far\n(?:[^\n]*\n)*?[^\n]*epoll timer: 0\n(?:[^\n]*\n)*?[^\n]*state file: 1024 facts, \d+ bytes so far\n(?:[^\n]*\n)*?[^\n]*epoll timer: 0\n(?:[^\n]*\n)*?[^\n]*state file: 1200 facts, \d+ bytes so far\n(?:[^\n]*\n)*?[^\n]*state file: wrote 1200 facts to /]
--- no_error_log
[error]
