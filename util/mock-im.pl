#!/usr/bin/perl

# A local stand-in for the two IM providers upbot asks for group facts:
# Tencent Cloud IM's get_group_info and NetEase Yunxin IM's query team.  It
# checks each request the way the real service does (UserSig, CheckSum,
# CurTime, Nonce, parameters), answers from a fixtures file, records every
# call, and injects faults on command.  Used by the tests and by "make run".
#
#   perl util/mock-im.pl --port PORT --dir DIR [--fixtures FILE]
#                        [--exit-with PID] [--prefork N]
#
# A process per connection, by default: a held ("hang") or kept-alive
# connection never keeps another waiting.  --prefork N (the bench): N
# processes made at start, each answering one request per connection
# (Connection: close) and accepting the next, for hundreds of calls a
# second; a fork per connection, with 20,000 groups' fixtures parsed, let
# the bench's cold start see only 60-80 calls a second.
#
# DIR holds the state shared by the per-connection processes:
#   fixtures.json  the apps and groups (copied from --fixtures at start)
#   state.json     faults and group changes made through /_mock/
#   calls.jsonl    one line per provider call, with what was checked
#   mock.pid       written once the port listens
#
# Control (any client): POST /_mock/fault {"provider":"tim","mode":"http500",
# "count":N,...}, POST /_mock/group {"provider":"tim","id":"...",fields...},
# POST /_mock/reset (faults, group changes and the call log), GET /_mock/calls,
# POST /_mock/sleep {"ms":N} (answers after N ms: a pause between requests).

use strict;
use warnings;

use Compress::Zlib ();
use Digest::SHA qw(hmac_sha256 sha1_hex);
use Fcntl qw(:flock);
use Getopt::Long;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my ($port, $dir, $fixtures_file, $exit_with, $prefork);

GetOptions('port=i' => \$port, 'dir=s' => \$dir,
           'fixtures=s' => \$fixtures_file, 'exit-with=i' => \$exit_with,
           'prefork=i' => \$prefork)
    and $port and $dir
    or die "usage: $0 --port PORT --dir DIR [--fixtures FILE]"
           . " [--exit-with PID] [--prefork N]\n";

my $json = JSON::PP->new->canonical->allow_nonref;
my ($fixtures, $cached_changes);      # parsed once; a request's changes

mkdir $dir unless -d $dir;

write_file("$dir/fixtures.json",
           $fixtures_file ? read_file($fixtures_file) : '{}');
write_file("$dir/state.json", '{"faults":{},"groups":{}}');
write_file("$dir/calls.jsonl", '');
fixtures();             # parsed here, once, for every connection's child

my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $port, Listen => 128,
                                   ReuseAddr => 1, Timeout => 1)
    or die "mock-im: cannot listen on 127.0.0.1:$port: $!\n";

my $running = 1;
my %kids;

$SIG{TERM} = $SIG{INT} = sub { $running = 0 };
$SIG{CHLD} = sub {
    while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
        delete $kids{$pid};
    }
};

write_file("$dir/mock.pid", "$$\n");

prefork() if $prefork;

while ($running) {
    # a test killed before it could stop the mock leaves no mock behind
    last if $exit_with && !kill(0, $exit_with);

    my $client = $server->accept or next;

    my $pid = fork;

    if (!defined $pid) {
        close $client;
        next;
    }

    if ($pid == 0) {
        $SIG{TERM} = $SIG{INT} = 'DEFAULT';
        close $server;
        serve($client);
        exit 0;
    }

    $kids{$pid} = 1;
    close $client;
}

# connections kept open by "hang" or keepalive end with the mock
kill 'TERM', keys %kids;
unlink "$dir/mock.pid";
exit 0;


# --prefork: N processes accept in turn, one request a connection; one that
# dies is made again
sub prefork {
    while ($running) {
        last if $exit_with && !kill(0, $exit_with);

        while ($running && keys %kids < $prefork) {
            my $pid = fork // last;

            if ($pid == 0) {
                $SIG{TERM} = $SIG{INT} = 'DEFAULT';
                $SIG{CHLD} = 'DEFAULT';

                while (!$exit_with || kill(0, $exit_with)) {
                    my $client = $server->accept or next;
                    serve($client, 1);
                    close $client;
                }

                POSIX::_exit(0);
            }

            $kids{$pid} = 1;
        }

        sleep 0.2;
    }

    kill 'TERM', keys %kids;
    unlink "$dir/mock.pid";
    exit 0;
}


# one connection: requests until the client closes or asks to, or one
# request only (--prefork)

sub serve {
    my ($c, $once) = @_;

    binmode $c;

    while (my $req = read_request($c)) {
        my $keep = !$once
                   && (($req->{headers}{connection} // '') !~ /close/i)
                   && $req->{version} eq 'HTTP/1.1';
        my $resp = handle($req);

        return if $resp->{drop};             # hang and close end here

        send_response($c, $resp, $keep);
        return unless $keep;
    }
}


sub read_request {
    my $c = shift;

    local $/ = "\r\n";

    my $line = <$c>;
    return undef unless defined $line;

    my $arrived = time;         # the call's time in the call log

    $line =~ s/\r\n\z//;
    my ($method, $target, $version) = split / /, $line;
    return undef unless $version;

    my %h;

    while (defined(my $l = <$c>)) {
        $l =~ s/\r\n\z//;
        last if $l eq '';
        my ($k, $v) = $l =~ /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = $v;
    }

    my $body = '';
    my $len = $h{'content-length'} // 0;

    while (length $body < $len) {
        my $n = read($c, $body, $len - length $body, length $body);
        last unless $n;
    }

    my ($path, $query) = split /\?/, $target, 2;

    return { method => $method, path => $path, query => $query // '',
             args => parse_query($query // ''), version => $version,
             headers => \%h, body => $body, conn => $c,
             arrived => $arrived };
}


sub send_response {
    my ($c, $r, $keep) = @_;

    my $body = $r->{body} // '';
    my $len = $r->{length} // length $body;
    my $status = $r->{status} // 200;
    my $type = $r->{type} // 'application/json';

    my $head = "HTTP/1.1 $status X\r\nContent-Type: $type\r\n"
               . "Content-Length: $len\r\n"
               . ($keep ? '' : "Connection: close\r\n") . "\r\n";

    if ($r->{trickle}) {
        my ($chunk, $every) = @{ $r->{trickle} };
        my $all = $head . $body;

        while (length $all) {
            syswrite($c, substr($all, 0, $chunk, '')) or return;
            sleep($every / 1000);
        }

        return;
    }

    syswrite($c, $head . $body);
    close $c if $r->{close_after};
}


sub handle {
    my $req = shift;

    if ($req->{path} =~ m{^/_mock/(\w+)$}) {
        return control($1, $req);
    }

    if ($req->{path} eq '/v4/group_open_http_svc/get_group_info') {
        return provider('tim', $req, \&tim);
    }

    if ($req->{path} =~ m{^/im/v2\.1/teams/([^/]+)$}) {
        $req->{team_id} = unescape($1);
        return provider('yunxin', $req, \&yunxin);
    }

    return { status => 404, body => '{"error":"no such path"}' };
}


# a provider call: fault or answer, then one line in the call log

sub provider {
    my ($name, $req, $answer) = @_;

    my $call = { provider => $name, time => $req->{arrived},
                 method => $req->{method},
                 path => $req->{path}, query => $req->{args},
                 body => $req->{body},
                 headers => { map { defined $req->{headers}{$_}
                                    ? ($_ => $req->{headers}{$_}) : () }
                              qw(appkey nonce curtime checksum
                                 x-custom-traceid content-type
                                 content-length host authorization) } };

    my $fault = take_fault($name);

    undef $cached_changes;

    my $resp = $answer->($req, $call);

    $call->{result} //= 'ok';
    $call->{fault} = $fault->{mode} if $fault;
    log_call($call);

    return $resp unless $fault;

    return apply_fault($fault, $resp, $name, $req);
}


sub apply_fault {
    my ($f, $resp, $name, $req) = @_;
    my $m = $f->{mode};

    if ($m eq 'http500' || $m eq 'http503') {
        return { status => substr($m, 4), type => 'text/html',
                 body => "<html><body>server error</body></html>" };
    }

    if ($m eq 'error') {
        my $code = $f->{code} // 10002;
        return { body => $name eq 'tim'
                 ? $json->encode({ ActionStatus => 'FAIL',
                                   ErrorCode => $code + 0,
                                   ErrorInfo => "injected error $code" })
                 : $json->encode({ code => $code + 0,
                                   msg => "injected error $code" }) };
    }

    if ($m eq 'garbage') {
        return { body => '<html>not json</html>', type => 'text/html' };
    }

    if ($m eq 'truncated') {
        return { body => substr($resp->{body}, 0,
                                int(length($resp->{body}) / 2)) };
    }

    if ($m eq 'short') {
        my $b = $resp->{body};
        return { body => substr($b, 0, int(length($b) / 2)),
                 length => length $b, close_after => 1 };
    }

    if ($m eq 'big') {
        my $size = $f->{size} // 1_100_000;
        my $doc = $json->decode($resp->{body});
        my $pad = $size - length($resp->{body});
        $doc->{ $name eq 'tim' ? 'ErrorInfo' : 'msg' } = 'x' x $pad
            if $pad > 0;
        return { body => $json->encode($doc) };
    }

    if ($m eq 'slow') {
        $resp->{trickle} = [$f->{chunk} // 64, $f->{every_ms} // 20];
        return $resp;
    }

    if ($m eq 'hang') {
        # answer nothing until the client gives up and closes
        my $buf;
        my $c = $req->{conn};
        my $rin = '';
        vec($rin, fileno($c), 1) = 1;
        select(my $rout = $rin, undef, undef, 600);
        sysread($c, $buf, 1);
        return { drop => 1 };
    }

    if ($m eq 'delay') {
        sleep(($f->{ms} // 500) / 1000);
        return $resp;
    }

    if ($m eq 'close') {
        return { drop => 1 };
    }

    return $resp;
}


# Tencent Cloud IM: get_group_info

sub tim {
    my ($req, $call) = @_;
    my $fx = fixtures();
    my $a = $req->{args};

    my $fail = sub {
        my ($code, $info) = @_;
        $call->{result} = "$code $info";
        return { body => $json->encode({ ActionStatus => 'FAIL',
                                         ErrorCode => $code,
                                         ErrorInfo => $info }) };
    };

    for my $p (qw(sdkappid identifier usersig random contenttype)) {
        return $fail->(60002, "missing $p") unless defined $a->{$p};
    }

    my $app = $fx->{tim}{apps}{ $a->{sdkappid} }
        or return $fail->(70013, 'unknown sdkappid');

    return $fail->(70013, 'identifier is not the app admin')
        unless $a->{identifier} eq ($app->{identifier} // 'admin');

    # compared as a copy: the log keeps the query's strings as strings
    my $random = "$a->{random}";

    return $fail->(60002, 'random is not a uint32')
        unless $random =~ /^\d{1,10}$/ && $random <= 4294967295;

    return $fail->(60002, 'contenttype is not json')
        unless $a->{contenttype} eq 'json';

    my ($doc, $why) = check_usersig($a->{usersig}, $app->{key},
                                    $a->{identifier}, $a->{sdkappid});
    $call->{usersig} = $doc if $doc;
    return $fail->(70001, $why) if $why && $why =~ /expired/;
    return $fail->(70003, $why) if $why;

    my $body = eval { $json->decode($req->{body}) };

    return $fail->(10004, 'body is not a JSON object')
        unless ref $body eq 'HASH';

    my $ids = $body->{GroupIdList};

    return $fail->(10004, 'GroupIdList must list 1 to 50 ids')
        unless ref $ids eq 'ARRAY' && @$ids >= 1 && @$ids <= 50;

    $call->{group_ids} = $ids;

    my $filter = $body->{ResponseFilter} // {};
    my $fields = $filter->{GroupBaseInfoFilter};
    my $keys = $filter->{AppDefinedDataFilter_Group};
    my @info;

    for my $id (@$ids) {
        my $g = group('tim', $id);

        if (!$g) {
            push @info, { GroupId => $id, ErrorCode => 10010,
                          ErrorInfo => 'group is not exist' };
            next;
        }

        if ($g->{ErrorCode}) {
            push @info, { GroupId => $id, ErrorCode => $g->{ErrorCode} + 0,
                          ErrorInfo => "error $g->{ErrorCode}" };
            next;
        }

        my %out = (GroupId => $id, ErrorCode => 0, ErrorInfo => '');

        for my $k (sort keys %$g) {
            next if $k eq 'ErrorCode' || $k eq 'AppDefinedData';
            next if $fields && !grep { $_ eq $k } @$fields;
            $out{$k} = $g->{$k};
        }

        if ($keys && $g->{AppDefinedData}) {
            $out{AppDefinedData} = [ grep { my $k = $_->{Key};
                                            grep { $_ eq $k } @$keys }
                                     @{ $g->{AppDefinedData} } ];
        }

        push @info, \%out;
    }

    return { body => $json->encode({ ActionStatus => 'OK', ErrorInfo => '',
                                     ErrorCode => 0,
                                     GroupInfo => \@info }) };
}


# TLSSigAPIv2, checked as the service does; returns (document, problem)

sub check_usersig {
    my ($sig, $key, $identifier, $sdkappid) = @_;

    (my $b64 = $sig) =~ tr{*\-_}{+/=};
    my $packed = decode_base64($b64);
    my $text = Compress::Zlib::uncompress($packed);

    return (undef, 'usersig does not inflate') unless defined $text;

    my $doc = eval { JSON::PP->new->decode($text) };

    return (undef, 'usersig is not JSON') unless ref $doc eq 'HASH';

    return ($doc, 'TLS.ver is not 2.0')
        unless ($doc->{'TLS.ver'} // '') eq '2.0';
    return ($doc, 'TLS.identifier differs')
        unless ($doc->{'TLS.identifier'} // '') eq $identifier;
    return ($doc, 'TLS.sdkappid differs')
        unless ($doc->{'TLS.sdkappid'} // '') eq $sdkappid
               && $text =~ /"TLS\.sdkappid":\d+[,}]/;

    my ($t, $e) = ($doc->{'TLS.time'}, $doc->{'TLS.expire'});

    return ($doc, 'TLS.time or TLS.expire is not a number')
        unless defined $t && $t =~ /^\d+$/ && defined $e && $e =~ /^\d+$/;

    my $want = encode_base64(hmac_sha256(tim_signed_string($identifier,
                                                           $sdkappid, $t, $e),
                                         $key), '');

    return ($doc, 'TLS.sig does not match') unless $doc->{'TLS.sig'} eq $want;
    return ($doc, 'TLS.time is in the future') if $t > time + 300;
    return ($doc, 'usersig expired') if $t + $e <= time;

    return ($doc, undef);
}


sub tim_signed_string {
    my ($identifier, $sdkappid, $t, $e) = @_;

    return "TLS.identifier:$identifier\nTLS.sdkappid:$sdkappid\n"
           . "TLS.time:$t\nTLS.expire:$e\n";
}


# NetEase Yunxin IM: query team

sub yunxin {
    my ($req, $call) = @_;
    my $fx = fixtures();
    my $h = $req->{headers};

    my $fail = sub {
        my ($code, $msg) = @_;
        $call->{result} = "$code $msg";
        return { body => $json->encode({ code => $code, msg => $msg }) };
    };

    $call->{team_id} = $req->{team_id};

    return $fail->(414, 'method must be GET') unless $req->{method} eq 'GET';

    my $app = $fx->{yunxin}{apps}{ $h->{appkey} // '' }
        or return $fail->(414, 'unknown AppKey');

    my $nonce = $h->{nonce} // '';
    return $fail->(414, 'Nonce must be 1 to 128 characters')
        unless length $nonce >= 1 && length $nonce <= 128;

    my $cur = $h->{curtime} // '';
    return $fail->(414, 'CurTime is not a number') unless $cur =~ /^\d+$/;
    return $fail->(414, 'CurTime is more than 5 minutes off')
        if abs(time - $cur) > 300;

    return $fail->(414, 'checksum error')
        unless ($h->{checksum} // '') eq sha1_hex($app->{secret} . $nonce
                                                  . $cur);

    my $type = $req->{args}{team_type} // '';
    return $fail->(414, 'team_type must be 1 or 2') unless $type =~ /^[12]$/;

    my $t = group('yunxin', $req->{team_id})
        or return $fail->(108404, 'team not exist');

    return $fail->($t->{code} + 0, "error $t->{code}")
        if defined $t->{code} && $t->{code} != 200;

    return $fail->(108302, 'not advanced team')
        if ($t->{team_type} // 1) != $type;

    my $id = $req->{team_id};
    my %team = (team_id => $id =~ /^\d+$/ ? $id + 0 : $id,
                team_type => $type + 0, name => $t->{name},
                icon => $t->{icon}, announcement => undef, intro => undef,
                members_limit => $t->{members_limit} // 200,
                server_extension => $t->{server_extension} // '',
                customer_extension => '',
                configuration => { update_team_info_mode => 0,
                                   invite_mode => 1, join_mode => 0,
                                   agree_mode => 1,
                                   update_extension_mode => 0,
                                   chat_banned_mode => 0 },
                create_time => 1506652312445, update_time => 1521082125400);

    $team{member_count} = $t->{member_count} if defined $t->{member_count};

    my $data = ($t->{style} // 'team_info') eq 'flat'
               ? \%team : { team_info => \%team };

    return { body => $json->encode({ code => 200, msg => 'success',
                                     data => $data }) };
}


# control

sub control {
    my ($what, $req) = @_;

    if ($what eq 'calls') {
        return { body => read_file("$dir/calls.jsonl"),
                 type => 'text/plain' };
    }

    my $arg = $req->{body} eq '' ? {} : eval { $json->decode($req->{body}) };

    return { status => 400, body => '{"error":"body is not JSON"}' }
        unless ref $arg eq 'HASH';

    if ($what eq 'sleep') {
        # lets a test wait between two of its requests
        sleep(($arg->{ms} // 1000) / 1000);
        return { body => '{"ok":true}' };
    }

    if ($what eq 'reset') {
        with_state(sub { %{ $_[0] } = (faults => {}, groups => {}) });
        with_lock("$dir/calls.jsonl", sub { truncate $_[0], 0 });
        return { body => '{"ok":true}' };
    }

    if ($what eq 'fault') {
        my $p = delete $arg->{provider} // 'tim';
        $arg->{mode} //= 'none';
        with_state(sub { $_[0]{faults}{$p} = $arg });
        return { body => '{"ok":true}' };
    }

    if ($what eq 'group') {
        my $p = delete $arg->{provider} // 'tim';
        my $id = delete $arg->{id} // '';
        with_state(sub {
            my $g = $_[0]{groups}{$p}{$id} //= {};
            %$g = (%$g, %$arg);
        });
        return { body => '{"ok":true}' };
    }

    return { status => 404, body => '{"error":"no such control"}' };
}


sub fixtures {
    return $fixtures //= $json->decode(read_file("$dir/fixtures.json"));
}


# a group of the fixtures with the changes made through /_mock/group;
# the changes are read once a request

sub group {
    my ($p, $id) = @_;

    if (!$cached_changes) {
        with_state(sub { $cached_changes = $_[0]{groups} });
    }

    my $base = fixtures()->{$p}{ $p eq 'tim' ? 'groups' : 'teams' }{$id};
    my $change = $cached_changes->{$p}{$id};

    return undef unless $base || $change;
    return { %{ $base // {} }, %{ $change // {} } };
}


# the fault of a provider, counting down a limited one

sub take_fault {
    my $p = shift;
    my $f;

    with_state(sub {
        my $s = shift;
        $f = $s->{faults}{$p};

        if (!$f || $f->{mode} eq 'none') {
            $f = undef;
            return;
        }

        if (defined $f->{count}) {
            if ($f->{count} <= 0) {
                $f = undef;
                return;
            }
            $f->{count}--;
        }

        $f = { %$f };
    });

    return $f;
}


sub with_state {
    my $fn = shift;

    with_lock("$dir/state.json", sub {
        my $fh = shift;
        seek $fh, 0, 0;
        local $/;
        my $text = <$fh>;
        my $s = $text ? $json->decode($text) : { faults => {}, groups => {} };
        $fn->($s);

        # most calls only read it
        my $new = $json->encode($s);
        return if defined $text && $new eq $text;

        seek $fh, 0, 0;
        truncate $fh, 0;
        print $fh $new;
    });
}


sub log_call {
    my $line = $json->encode(shift) . "\n";

    with_lock("$dir/calls.jsonl", sub {
        my $fh = shift;
        seek $fh, 0, 2;
        print $fh $line;
    });
}


sub with_lock {
    my ($file, $fn) = @_;

    open my $fh, '+<', $file or die "mock-im: $file: $!\n";
    binmode $fh;
    flock $fh, LOCK_EX or die "mock-im: flock $file: $!\n";
    $fn->($fh);
    close $fh;
}


sub parse_query {
    my %a;

    for my $pair (split /&/, shift) {
        my ($k, $v) = split /=/, $pair, 2;
        $a{ unescape($k) } = unescape($v // '');
    }

    return \%a;
}


sub unescape {
    my $s = shift;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}


sub read_file {
    my $f = shift;
    open my $fh, '<', $f or die "mock-im: $f: $!\n";
    binmode $fh;
    local $/;
    my $text = <$fh>;
    return $text // '';
}


sub write_file {
    my ($f, $text) = @_;
    open my $fh, '>', $f or die "mock-im: $f: $!\n";
    binmode $fh;
    print $fh $text;
    close $fh;
}
