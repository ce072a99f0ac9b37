# "upbot_event_log FILE fsync=on": the directive's options and mistakes,
# answers once the batch is synced, and 1006 when the sync fails (an
# LD_PRELOAD shim, t/lib/synctrace.c, fails fdatasync() of files named
# "fail-sync").  t/081-events-fsync-order.t proves the order of write,
# sync and answer.  Skipped unless nginx has threads (t/052 checks the
# refusal where it has not).

use File::Temp qw(tempdir);

# the shim, built outside the server root (which the runner owns), and in
# nginx's environment before Test::Nginx loads: it keeps the LD_PRELOAD it
# finds then, and sets it again for every block
BEGIN {
    my $shim = tempdir(CLEANUP => 1) . '/synctrace.so';

    system($ENV{CC} || 'cc', '-shared', '-fPIC', '-o', $shim,
           't/lib/synctrace.c', '-ldl') == 0
        or die "cannot build t/lib/synctrace.c\n";

    $ENV{LD_PRELOAD} = $shim;
    $ENV{SYNCTRACE_FAIL} = 'fail-sync';
}

use Test::Nginx::Socket;

my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';

if (`$bin -V 2>&1` !~ /--with-threads/) {
    plan(skip_all => "$bin is not built --with-threads");
}

plan('no_plan');

log_level('info');

our $Head = '"head":{"account_info":{"account_type":3,"appid":"wx1","openid":"op1"}}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: fsync=on: the batch is answered ret 0 and is in the file
--- config
    location = /e {
        upbot_event_log html/s1.jsonl fsync=on;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":\"1\",\"trace_id\":\"t1\"},{\"event_id\":\"2\"}]}",
 "GET /s1.jsonl"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"ret":0,"msg":""\}$/,
 qr/^\{"received_ms":\d+,[^\n]*"event_id":"1","trace_id":"t1"\}\n\{[^\n]*"event_id":"2"\}\n$/]
--- no_error_log
[error]



=== TEST 2: batches one after another, each synced
--- config
    location = /e {
        upbot_event_log html/s2.jsonl fsync=on;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":\"1\"}]}",
 "POST /e\n{$::Head,\"items\":[{\"event_id\":\"2\"}]}",
 "POST /e\n{$::Head,\"items\":[{\"event_id\":\"3\"}]}",
 "GET /s2.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/, qr/"ret":0/,
 qr/\A[^\n]*"event_id":"1"\}\n[^\n]*"event_id":"2"\}\n[^\n]*"event_id":"3"\}\n\z/]



=== TEST 3: a thread pool of its own, declared with thread_pool
--- main_config
    thread_pool  events  threads=2;
--- config
    location = /e {
        upbot_event_log html/s3.jsonl fsync=on thread_pool=events;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"code\":\"pooled\"}]}", "GET /s3.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"code":"pooled"\}\n$/]



=== TEST 4: fsync=off is as without it
--- config
    location = /e {
        upbot_event_log html/s4.jsonl fsync=off;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"code\":\"plain\"}]}", "GET /s4.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"code":"plain"\}\n$/]



=== TEST 5: inherited from the server level, with fsync=on; a location may say off
--- config
    upbot_event_log html/s5.jsonl fsync=on;
    location = /e {
        upbot_report_media_event;
    }
    location = /e2 {
        upbot_event_log html/s5.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"code\":\"synced\"}]}",
 "POST /e2\n{$::Head,\"items\":[{\"code\":\"unsynced\"}]}",
 "GET /s5.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/, qr/"code":"synced"\}\n.*"code":"unsynced"\}\n$/]



=== TEST 6: a sync that fails: 1006, nothing acknowledged, the error logged
--- config
    location = /e {
        upbot_event_log html/fail-sync.jsonl fsync=on;
        upbot_report_media_event;
        add_header X-Ret $upbot_ret always;
    }
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":\"1\",\"trace_id\":\"t-eio\"},{}]}"
--- error_code: 503
--- response_headers
X-Ret: 1006
--- response_body chomp
{"ret":1006,"msg":"服务繁忙，请稍后再试"}
--- error_log eval
[qr/\[error\] .*upbot: 1 batches not acknowledged \(0 of them written while it ran\): fdatasync\(\) of "\S+\/html\/fail-sync\.jsonl" failed \(5: Input\/output error\)/,
 qr/\[info\] .*upbot ReportMediaEvent: 2 events written but not acknowledged: the event log could not be synced \(ret 1006\), trace_id: "t-eio"/]



=== TEST 7: fsync= takes on or off
--- config
    location = /e {
        upbot_event_log html/s7.jsonl fsync=yes;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "fsync=yes" in "upbot_event_log", it must be "fsync=on" or "fsync=off" in \S+nginx\.conf:\d+/



=== TEST 8: an unknown parameter
--- config
    location = /e {
        upbot_event_log html/s8.jsonl buffer=64k;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_event_log" \(not shown: it may be a secret\), expected fsync= or thread_pool= in \S+nginx\.conf:\d+/



=== TEST 9: thread_pool= without fsync=on
--- config
    location = /e {
        upbot_event_log html/s9.jsonl thread_pool=default;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"thread_pool=default" is used only with "fsync=on" in \S+nginx\.conf:\d+/



=== TEST 10: a thread pool that nobody declared
--- config
    location = /e {
        upbot_event_log html/s10.jsonl fsync=on thread_pool=nosuch;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nosuch" in \S+nginx\.conf:\d+/



=== TEST 11: an empty thread pool name
--- config
    location = /e {
        upbot_event_log html/s11.jsonl fsync=on thread_pool=;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "thread_pool=" in "upbot_event_log", it must name a thread pool in \S+nginx\.conf:\d+/



=== TEST 12: off takes no options
--- config
    location = /e {
        upbot_event_log off fsync=on;
        upbot_report_media_event;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_event_log" \(not shown: it may be a secret\), expected nothing after "off" in \S+nginx\.conf:\d+/
