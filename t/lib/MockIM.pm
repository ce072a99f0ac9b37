package MockIM;

# Starts util/mock-im.pl (the stand-in Tencent and Yunxin services) for a
# test file and talks to its control endpoints.  A .t file does
#
#     use lib 't/lib';
#     use MockIM;
#     MockIM::start(fixtures => { tim => {...}, yunxin => {...} });
#
# and then, in its configuration, proxy_passes the providers' internal
# locations to 127.0.0.1:$TEST_NGINX_MOCK_PORT.  The mock stops with the
# test file.

use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);

our $Port = $ENV{TEST_NGINX_MOCK_PORT}
            || ($ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                || 1984) + 2;
our $Dir = File::Spec->rel2abs("t/servroot-mock");
our $Pid;
our $Owner = $$;

$ENV{TEST_NGINX_MOCK_PORT} = $Port;
$ENV{TEST_NGINX_MOCK_DIR} = $Dir;

my $json = JSON::PP->new->canonical;


sub start {
    my %opt = @_;

    stop();
    remove_tree($Dir);
    make_path($Dir);

    my $fx = "$Dir/given-fixtures.json";
    open my $fh, '>', $fx or die "MockIM: $fx: $!";
    print $fh $json->encode($opt{fixtures} // {});
    close $fh;

    $Pid = fork() // die "MockIM: fork: $!";

    if ($Pid == 0) {
        open STDOUT, '>', "$Dir/stdout";
        open STDERR, '>', "$Dir/stderr";
        exec $^X, 'util/mock-im.pl', '--port', $Port, '--dir', $Dir,
             '--fixtures', $fx, '--exit-with', $Owner;
        exit 127;
    }

    for (1 .. 200) {
        if (-e "$Dir/mock.pid") {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $Port);
            return 1 if $s;
        }

        if (waitpid($Pid, WNOHANG) == $Pid) {
            undef $Pid;
            die "MockIM: the mock exited: " . slurp("$Dir/stderr");
        }

        sleep 0.05;
    }

    die "MockIM: the mock did not start on port $Port";
}


sub stop {
    return unless $Pid && $$ == $Owner;

    kill 'TERM', $Pid;

    for (1 .. 100) {
        last if waitpid($Pid, WNOHANG) == $Pid;
        sleep 0.05;
    }

    kill 'KILL', $Pid;
    waitpid($Pid, 0);
    undef $Pid;
}


END {
    local $?;
    stop();
}


# every provider call since the last reset, oldest first
sub calls {
    my %opt = @_;
    my @calls;

    for my $line (split /\n/, slurp("$Dir/calls.jsonl")) {
        my $c = $json->decode($line);
        next if $opt{provider} && $c->{provider} ne $opt{provider};
        push @calls, $c;
    }

    return @calls;
}


sub reset { control('reset', {}) }


# before a Test::Nginx block: a clean mock, then the block's "mock_fault"
# and "mock_group" sections (one JSON object a line) set, so that even the
# block's first request meets them
sub prepare {
    my $block = shift;

    control('reset', {});

    for my $what (qw(fault group)) {
        my $section = "mock_$what";
        my $v = $block->can($section) ? $block->$section : undef;
        next unless defined $v;

        for my $line (grep { /\S/ } split /\n/, $v) {
            control($what, $json->decode($line));
        }
    }
}

sub fault { my %a = @_; control('fault', \%a) }

sub set_group { my %a = @_; control('group', \%a) }


sub control {
    my ($what, $arg) = @_;

    my $body = $json->encode($arg);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $Port)
        or die "MockIM: cannot reach the mock: $!";

    print $s "POST /_mock/$what HTTP/1.1\r\nHost: mock\r\n"
             . "Content-Length: " . length($body) . "\r\n"
             . "Connection: close\r\n\r\n$body";

    local $/;
    my $resp = <$s>;

    die "MockIM: $what failed: $resp" unless $resp =~ m{^HTTP/1\.1 200};
    return 1;
}


sub slurp {
    my $f = shift;
    open my $fh, '<', $f or return '';
    local $/;
    my $text = <$fh>;
    return $text // '';
}


1;
