# A GetMediaInfo request and its success answer as the static-pool tests
# write them (t/030-pool.t, t/031-live-rules.t):
#
#     use MediaInfo qw(req ans);
#     --- request eval
#     main::req("code")                       # POST /m, openid "o"
#     main::req("code", "openid-1", "/spread")
#     main::visit("code", "A", "app2")        # openid "A" of appid "app2"
#     main::show("code", "trace-1")           # with trace id "trace-1"
#     main::events(["1110201", "code", "trace-1"], ...)
#                                             # POST /e, [event_id, code,
#                                             # trace id] an item
#     --- response_body eval
#     main::ans("https://x/url")              # name and background ""

package MediaInfo;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(req ans visit show events);

sub req {
    my ($code, $openid, $where) = @_;
    $openid //= "o";
    $where //= "/m";
    return "POST $where\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"$openid\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t\"}";
}

# a GetMediaInfo of visitor $openid of app $appid (t/034-sticky.t,
# t/035-visitor-limit.t)
sub visit {
    my ($code, $openid, $appid) = @_;
    my $r = req($code, $openid);
    $r =~ s/"appid":"a"/"appid":"$appid"/ if defined $appid;
    return $r;
}

# a GetMediaInfo of $code with trace id $trace (t/036-attribution.t,
# t/070-metrics.t)
sub show {
    my ($code, $trace) = @_;
    my $r = req($code);
    $r =~ s/"trace_id":"t"/"trace_id":"$trace"/;
    return $r;
}

# a ReportMediaEvent batch to "location = /e" of [event_id, code, trace id]
# items
sub events {
    my @items = map { "{\"event_id\":\"$_->[0]\",\"code\":\"$_->[1]\","
                      . "\"trace_id\":\"$_->[2]\"}" } @_;
    return "POST /e\n{\"head\":{\"account_info\":{\"account_type\":2,"
           . "\"appid\":\"a\",\"openid\":\"o\"}},\"items\":["
           . join(',', @items) . "]}";
}

sub ans {
    my ($url, $name) = @_;
    $name //= "";
    return "{\"ret\":0,\"msg\":\"\",\"data\":{\"url\":\"$url\",\"name\":\"$name\",\"background\":\"\"}}";
}

1;
