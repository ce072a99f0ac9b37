# A GetMediaInfo request and its success answer as the static-pool tests
# write them (t/030-pool.t, t/031-live-rules.t):
#
#     use MediaInfo qw(req ans);
#     --- request eval
#     main::req("code")                       # POST /m, openid "o"
#     main::req("code", "openid-1", "/spread")
#     --- response_body eval
#     main::ans("https://x/url")              # name and background ""

package MediaInfo;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(req ans);

sub req {
    my ($code, $openid, $where) = @_;
    $openid //= "o";
    $where //= "/m";
    return "POST $where\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"$openid\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t\"}";
}

sub ans {
    my ($url, $name) = @_;
    $name //= "";
    return "{\"ret\":0,\"msg\":\"\",\"data\":{\"url\":\"$url\",\"name\":\"$name\",\"background\":\"\"}}";
}

1;
