# The story of a look-up and of an event batch in a --with-debug error log:
# each step leaves a line.  Skipped unless nginx is built --with-debug
# (Debian's nginx and the matrix's builds are; nginx.org's packages not).

use lib 't/lib';
use MockIM;
use Test::Nginx::Socket;

my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';

if (`$bin -V 2>&1` !~ /--with-debug/) {
    plan(skip_all => "$bin is not built --with-debug");
}

plan('no_plan');

log_level("debug");

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => {
                 '@TGS#full' => { Name => 'full', MemberNum => 200, MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/full' }] },
                 '@TGS#a' => { Name => 'A', MemberNum => 5, MaxMemberNum => 200,
                               AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/a' }] },
             } },
});

sub req {
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\","
           . "\"trace_id\":\"t-debug\"}";
}

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n");

    $block->set_value("http_config", <<"_EOC_");
    upbot_zone  upbot:1m;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;

    upbot_codes {
        c1  tim:prod  \@TGS#full;
        c1  tim:prod  \@TGS#a;
    }
_EOC_

    $block->set_value("config", <<'_EOC_');
    location = /m {
        upbot_get_media_info;
    }

    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n");
});

run_tests();

__DATA__

=== TEST 1: a cold look-up: claimed, call sent, answer read, groups applied, resumed, picked, answered
--- request eval
main::req()
--- response_body_like chomp
"url":"https://join.example.com/a"
--- error_log eval
[
qr/upbot: claimed group "tim:prod \@TGS#full"/,
qr/upbot: claimed group "tim:prod \@TGS#a"/,
qr/upbot: looked at 2 of 2 groups of code "c1": 2 to fetch/,
qr/upbot: call sent: tim:prod, 2 groups, to "\/_upbot\/tim", code "c1"/,
qr/upbot: answer read: tim:prod, rc:0 status:200/,
qr/upbot: tim:prod: group "\@TGS#full": ok, members:200\/200/,
qr/upbot: tim:prod: group "\@TGS#a": ok, members:5\/200/,
qr/upbot: call ended: tim:prod, after \d+ ms/,
qr/upbot: group "tim:prod \@TGS#a" applied/,
qr/upbot: calls done, code "c1" resumed/,
qr/upbot: looked at 2 of 2 groups of code "c1": 0 to fetch, blocked:0 fresh:0/,
qr/upbot: code "c1": pick 1/,
]
