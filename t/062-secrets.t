# No configuration mistake shows a secret: each option that carries one
# (Tencent's key=, Yunxin's secret=, the files behind key_file=, secret_file=
# and upbot_auth_tokens) with each kind of typo fails nginx -t, says where,
# and the whole error log (and nginx's stderr) holds no byte of the secret.
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
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 2: Tencent: key: instead of key=
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key:S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 3: Tencent: the name and the key as two words
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 4: Tencent: a base64 key alone, its padding like NAME=
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin S3CRETdmFsdWU= location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 5: Tencent: a base64 key alone, two padding bytes
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin S3CRETdmFsdWU== location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 6: Tencent: a misspelled name
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin kye=S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 7: Tencent: the name in capitals
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin KEY=S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 8: Tencent: a space after the equals sign
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key= S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter "key=\.\.\." of app "tim:prod": empty value in \S+nginx\.conf:\d+/



=== TEST 9: Tencent: a space before the equals sign
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key =S3CRETVALUE123 location=/_t;
--- error_log eval
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



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
qr/\[emerg\] .*invalid parameter 4 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 13: Tencent: the key where the location belongs
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123 location=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*invalid parameter "location=\.\.\." of app "tim:prod" in \S+nginx\.conf:\d+/



=== TEST 14: Tencent: a file's key, then a mistake after it
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key_file=$TEST_NGINX_SERVER_ROOT/html/tim.key location=/_t url_field;
--- error_log eval
qr/\[emerg\] .*invalid parameter 6 of app "tim:prod" \(not shown: it may be a secret\), expected sdkappid=, identifier=, key=, key_file=, location=, expire=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 15: Tencent: an inline key, then the app is missing its location
--- http_config
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*app "tim:prod" has no "location=" in \S+nginx\.conf:\d+/



=== TEST 16: Yunxin: the secret alone, without its name
--- http_config
    upbot_yunxin  cn  appkey=AK S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 17: Yunxin: secret: instead of secret=
--- http_config
    upbot_yunxin  cn  appkey=AK secret:S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 18: Yunxin: the name and the secret as two words
--- http_config
    upbot_yunxin  cn  appkey=AK secret S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 19: Yunxin: a base64 secret alone, its padding like NAME=
--- http_config
    upbot_yunxin  cn  appkey=AK S3CRETdmFsdWU= location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 20: Yunxin: a base64 secret alone, two padding bytes
--- http_config
    upbot_yunxin  cn  appkey=AK S3CRETdmFsdWU== location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 21: Yunxin: a misspelled name
--- http_config
    upbot_yunxin  cn  appkey=AK sceret=S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 22: Yunxin: the name in capitals
--- http_config
    upbot_yunxin  cn  appkey=AK SECRET=S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 23: Yunxin: a space after the equals sign
--- http_config
    upbot_yunxin  cn  appkey=AK secret= S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter "secret=\.\.\." of app "yunxin:cn": empty value in \S+nginx\.conf:\d+/



=== TEST 24: Yunxin: a space before the equals sign
--- http_config
    upbot_yunxin  cn  appkey=AK secret =S3CRETVALUE123 location=/_y/;
--- error_log eval
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



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
qr/\[emerg\] .*invalid parameter 3 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



=== TEST 28: Yunxin: the secret where the location belongs
--- http_config
    upbot_yunxin  cn  appkey=AK secret=S3CRETVALUE123 location=S3CRETVALUE123;
--- error_log eval
qr/\[emerg\] .*invalid parameter "location=\.\.\." of app "yunxin:cn" in \S+nginx\.conf:\d+/



=== TEST 29: Yunxin: a file's secret, then a mistake after it
--- http_config
    upbot_yunxin  cn  appkey=AK secret_file=$TEST_NGINX_SERVER_ROOT/html/yx.secret location=/_y/ url_field;
--- error_log eval
qr/\[emerg\] .*invalid parameter 5 of app "yunxin:cn" \(not shown: it may be a secret\), expected appkey=, secret=, secret_file=, location=, timeout= or url_field= in \S+nginx\.conf:\d+/



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



=== TEST 33: a good configuration, started at debug level, logs no secret
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
