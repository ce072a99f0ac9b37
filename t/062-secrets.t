# No configuration mistake shows a secret: each option that carries one
# (Tencent's key=, Yunxin's secret=, the files behind key_file=, secret_file=
# and upbot_auth_tokens) with each kind of typo fails nginx -t, says where,
# and the whole error log (and nginx's stderr) holds no byte of the secret;
# so does a secret written by mistake into another of the module's
# directives or a codes row.
# Every secret below contains "S3CRET".

use Test::Nginx::Socket 'no_plan';

log_level('debug');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", <<'_EOF_') unless defined $block->user_files;
>>> tokens
t0k3nS3CRET  test
>>> tim.key
S3CRETKEYFILE
>>> yx.secret
S3CRETSECRETFILE
_EOF_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
_EOC_

    $block->set_value("must_die", "")
        unless defined $block->must_die || defined $block->request;
    $block->set_value("no_error_log", "S3CRET\nS3CRE\n3CRET")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__
=== TEST 1: Tencent: the key alone, without its name
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 2: Tencent: key: instead of key=
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key:S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 3: Tencent: the name and the key as two words
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 4: Tencent: a base64 key alone, its padding like NAME=
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin S3CRETdmFsdWU= location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 5: Tencent: a base64 key alone, two padding bytes
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin S3CRETdmFsdWU== location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 6: Tencent: a misspelled name
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin kye=S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 7: Tencent: the name in capitals
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin KEY=S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 8: Tencent: a space after the equals sign
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key= S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter "key=\.\.\." of app "tim:prod": empty value in \S+nginx\.conf:\d+/



=== TEST 9: Tencent: a space before the equals sign
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key =S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 10: Tencent: the key given twice
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123 key=S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*duplicate "key=" of app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 11: Tencent: the key both inline and in a file
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123 key_file=$TEST_NGINX_SERVER_ROOT/html/tim.key location=/_t;
--- error_log eval
qr/\[emerg\] .*has both "key=" and "key_file=" in \S+nginx\.conf:\d+/



=== TEST 12: Tencent: the other provider's option name
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin secret=S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 13: Tencent: the key where the location belongs
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123 location=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*invalid parameter "location=\.\.\." of app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 14: Tencent: a file's key, then a mistake after it
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key_file=$TEST_NGINX_SERVER_ROOT/html/tim.key location=/_t url_field;
--- error_log eval
qr/\[emerg\] .*invalid parameter 6 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 15: Tencent: an inline key, then the app is missing its location
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*app "tim:prod" has no "location=" in \S+nginx\.conf:\d+/



=== TEST 16: Yunxin: the secret alone, without its name
--- http_config
    upbot_yunxin  cn  appkey=AK S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 17: Yunxin: secret: instead of secret=
--- http_config
    upbot_yunxin  cn  appkey=AK secret:S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 18: Yunxin: the name and the secret as two words
--- http_config
    upbot_yunxin  cn  appkey=AK secret S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 19: Yunxin: a base64 secret alone, its padding like NAME=
--- http_config
    upbot_yunxin  cn  appkey=AK S3CRETdmFsdWU= location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 20: Yunxin: a base64 secret alone, two padding bytes
--- http_config
    upbot_yunxin  cn  appkey=AK S3CRETdmFsdWU== location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 21: Yunxin: a misspelled name
--- http_config
    upbot_yunxin  cn  appkey=AK sceret=S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 22: Yunxin: the name in capitals
--- http_config
    upbot_yunxin  cn  appkey=AK SECRET=S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 23: Yunxin: a space after the equals sign
--- http_config
    upbot_yunxin  cn  appkey=AK secret= S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter "secret=\.\.\." of app "yunxin:cn": empty value in \S+nginx\.conf:\d+/



=== TEST 24: Yunxin: a space before the equals sign
--- http_config
    upbot_yunxin  cn  appkey=AK secret =S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 25: Yunxin: the secret given twice
--- http_config
    upbot_yunxin  cn  appkey=AK secret=S3CRETVALUE123 secret=S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*duplicate "secret=" of app "yunxin:cn" in \S+nginx\.conf:\d+/



=== TEST 26: Yunxin: the secret both inline and in a file
--- http_config
    upbot_yunxin  cn  appkey=AK secret=S3CRETVALUE123 secret_file=$TEST_NGINX_SERVER_ROOT/html/yx.secret location=/_y/;
--- error_log eval
qr/\[emerg\] .*has both "secret=" and "secret_file=" in \S+nginx\.conf:\d+/



=== TEST 27: Yunxin: the other provider's option name
--- http_config
    upbot_yunxin  cn  appkey=AK key=S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 28: Yunxin: the secret where the location belongs
--- http_config
    upbot_yunxin  cn  appkey=AK secret=S3CRETVALUE123 location=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*invalid parameter "location=\.\.\." of app "yunxin:cn" in \S+nginx\.conf:\d+/



=== TEST 29: Yunxin: a file's secret, then a mistake after it
--- http_config
    upbot_yunxin  cn  appkey=AK secret_file=$TEST_NGINX_SERVER_ROOT/html/yx.secret location=/_y/ url_field;
--- error_log eval
qr/\[emerg\] .*invalid parameter 5 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout=, url_field=, rate= or rate_wait= in \S+nginx\.conf:\d+/



=== TEST 30: Yunxin: an inline secret, then the app is missing its location
--- http_config
    upbot_yunxin  cn  appkey=AK secret=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*app "yunxin:cn" has no "location=" in \S+nginx\.conf:\d+/



=== TEST 31: tokens: a duplicate token
--- user_files
>>> tokens
t0k3nS3CRET  one
t0k3nS3CRET  two
--- error_log eval
qr/\[emerg\] .*duplicate token in "\S+\/html\/tokens" line 2 in \S+nginx\.conf:\d+/



=== TEST 32: tokens: a control character in a token
--- user_files
>>> tokens
t0k3nS3CRETx  one
--- error_log eval
qr/\[emerg\] .*control character in token in "\S+\/html\/tokens" line 1 in \S+nginx\.conf:\d+/



=== TEST 33: a key written into a codes row, as a bare word
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 S3CRETVALUE123;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 5 of the codes row \(not shown: it may be a secret\), expected url=, name=, .* or fallback in \S+nginx\.conf:\d+/



=== TEST 34: a key written into a codes row with its name
--- http_config
    upbot_codes {
        c1  static  g1  key=S3CRETVALUE123 url=https://example.com/j/g1;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 4 of the codes row \(not shown: it may be a secret\), expected url=, name=, .* or fallback in \S+nginx\.conf:\d+/



=== TEST 35: a key written where a row's source belongs
--- http_config
    upbot_codes {
        c1  S3CRETVALUE123  static  g1  url=https://example.com/j/g1;
    }
--- error_log eval
qr/\[emerg\] .*unknown group source, word 2 of the codes row \(not shown: it may be a secret\), expected "static", "tim:APP" or "yunxin:APP" in \S+nginx\.conf:\d+/



=== TEST 36: a key written before a row's code: the code is not shown
--- http_config
    upbot_codes {
        S3CRETVALUE123  c1  static  g1  url=https://example.com/j/g1;
    }
--- error_log eval
qr/\[emerg\] .*unknown group source, word 2 of the codes row \(not shown: it may be a secret\)/



=== TEST 37: a base64 secret written where a Yunxin team belongs
--- http_config
    upbot_zone  upbot:1m;
    upbot_yunxin  cn  appkey=AK secret=s location=/_y/;
    upbot_codes {
        c1  yunxin:cn  S3CRETdmFsdWU=  17889/1;
    }
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
    location /_y/ { internal; proxy_pass http://127.0.0.1:1/y/; }
--- error_log eval
qr/\[emerg\] .*invalid team, word 3 of the codes row \(not shown: it may be a secret\), expected TEAM_ID\/1 or TEAM_ID\/2 in \S+nginx\.conf:\d+/



=== TEST 38: a key written into upbot_cache
--- http_config
    upbot_cache  ttl=60s key=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_cache" \(not shown: it may be a secret\), expected ttl=, stale=, lock_timeout= or retry= in \S+nginx\.conf:\d+/



=== TEST 39: a key written into upbot_zone
--- http_config
    upbot_zone  key:S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*invalid parameter 1 of "upbot_zone" \(not shown: it may be a secret\), expected NAME:SIZE in \S+nginx\.conf:\d+/



=== TEST 40: a key written into upbot_event_log
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  html/e.jsonl S3CRETVALUE123;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_event_log" \(not shown: it may be a secret\), expected fsync= or thread_pool= in \S+nginx\.conf:\d+/



=== TEST 41: a key written after upbot_event_log off
--- config
    location = /e {
        upbot_report_media_event;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
        upbot_event_log  off S3CRETVALUE123;
    }
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_event_log" \(not shown: it may be a secret\), expected nothing after "off" in \S+nginx\.conf:\d+/



=== TEST 42: a good configuration, started at debug level, logs no secret
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123 location=/_t;
    upbot_yunxin  cn  appkey=AK secret_file=$TEST_NGINX_SERVER_ROOT/html/yx.secret location=/_y/;
--- config
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
    location = /_t { internal; proxy_pass http://127.0.0.1:1/t; }
    location /_y/ { internal; proxy_pass http://127.0.0.1:1/y/; }
--- request
GET /ok
--- error_code: 404
