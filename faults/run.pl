#!/usr/bin/env perl
# make check-faults: the fault scenarios of faults/NN-*.pl, one after the
# other, each in a process group of its own with its own folder under one
# temporary folder, its own two ports (8984 + 2k and the next; 8999 is
# never listened on) and a time limit; every process of a group is killed
# when its scenario ends, however it ends.  Each scenario prints its
# figures; the table at the end has them all (figure, value, bound,
# verdict), and this exits 1 if any bound failed or a scenario did not run
# to its end.  A "KNOWN" verdict is a known defect: shown, not failing.
#
#   perl faults/run.pl               every scenario
#   FAULTS_ONLY="1 5" perl faults/run.pl
#   FAULTS_KEEP=1                    keep the temporary folder (its path is
#                                    printed)
#
# TEST_NGINX_BINARY (default /usr/sbin/nginx) and TEST_NGINX_LOAD_MODULES
# (default build/modules/ngx_http_upbot_module.so) as for make test.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

$| = 1;

my $t0 = time;
my $limit = $ENV{FAULTS_SCENARIO_LIMIT} || 150;    # seconds a scenario
my $total_bound = $ENV{FAULTS_TOTAL_BOUND} || 330;
my %only = map { $_ + 0 => 1 } split /[ ,]+/, ($ENV{FAULTS_ONLY} // '');

my $tmp = tempdir('check-faults.XXXXXX', TMPDIR => 1,
                  CLEANUP => !$ENV{FAULTS_KEEP});
chmod 0700, $tmp;
my $results = "$tmp/results.jsonl";
write_file($results, '');

print "check-faults: nginx " . nginx_binary() . ", work in $tmp\n";
print "  " . (`@{[nginx_binary()]} -v 2>&1` =~ s/\s+\z//r) . ", "
      . `nproc` =~ s/\s+\z//r . " cores\n";

my @scripts = sort glob("$FindBin::Bin/[0-9][0-9]-*.pl");
my (@ran, $broken);

for my $script (@scripts) {
    my ($n, $name) = $script =~ m{/(\d\d)-([\w-]+)\.pl$} or next;
    next if %only && !$only{ $n + 0 };

    my $dir = "$tmp/$n-$name";
    mkdir $dir;

    print "\n== $n $name\n";
    my $start = time;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        $ENV{FAULTS_DIR} = $dir;
        $ENV{FAULTS_RESULTS} = $results;
        $ENV{FAULTS_SCENARIO} = "$n $name";
        $ENV{FAULTS_PORT} = 8984 + 2 * ($n - 1);
        $ENV{FAULTS_PORT2} = 8984 + 2 * ($n - 1) + 1;
        $ENV{FAULTS_DEAD_PORT} = 8999;
        { exec $^X, $script }
        POSIX::_exit(127);
    }

    POSIX::setpgid($pid, $pid);      # whichever of the two runs first

    my $status;
    my $end = $start + $limit;

    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            $status = $?;
            last;
        }
        if (time > $end) {
            print "  # $n $name: over its $limit s, killed\n";
            kill 'TERM', -$pid;
            sleep 2;
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $status = -1;
            last;
        }
        sleep 0.1;
    }

    # whatever the scenario left behind in its group (nginx, the mock, load
    # clients) goes now
    kill 'KILL', -$pid;

    my $secs = time - $start;
    push @ran, [$n, $name, $secs];

    if ($status != 0) {
        $broken++;
        record("$n $name", 'scenario ran to its end', $status == -1
               ? "killed after $limit s" : "exit status " . ($status >> 8)
                 . ($status & 127 ? ", signal " . ($status & 127) : ''),
               '', 'FAIL');
    }

    record("$n $name", 'time taken', sprintf('%.1f s', $secs), '', 'info');
    printf "  %-64s %14s\n", 'time taken', sprintf('%.1f s', $secs);
}

my $total = time - $t0;
record('all', 'total time of make check-faults (after the build)',
       sprintf('%.1f s', $total), "<= $total_bound s",
       $total <= $total_bound ? 'pass' : 'FAIL');

# --- the table ------------------------------------------------------------

my @rows = map { $JSON->decode($_) } grep { /\S/ } split /\n/,
           slurp($results);
my $failed = grep { $_->{verdict} eq 'FAIL' } @rows;
my $known = grep { $_->{verdict} eq 'KNOWN' } @rows;

print "\n== check-faults: figures\n\n";
printf "%-22s %-64s %16s  %-16s %s\n", 'scenario', 'figure', 'value',
       'bound', 'result';
print '-' x 128, "\n";

for my $r (@rows) {
    my $v = $r->{value};
    $v = sprintf('%.3f', $v) if $v =~ /^-?\d+\.\d{4,}$/;
    $v .= " $r->{unit}" if $r->{unit};
    my $b = $r->{bound};
    $b .= " $r->{unit}" if $b ne '' && $r->{unit};
    printf "%-22s %-64s %16s  %-16s %s\n", substr($r->{scenario}, 0, 22),
           $r->{name}, $v, $b, $r->{verdict};
}

print '-' x 128, "\n";

for my $r (grep { $_->{verdict} eq 'KNOWN' } @rows) {
    print "KNOWN DEFECT: $r->{scenario}: $r->{name}: $r->{note}\n";
}

for my $r (grep { $_->{verdict} eq 'FAIL' } @rows) {
    print "FAILED: $r->{scenario}: $r->{name}: $r->{value}"
          . ($r->{bound} ne '' ? " (bound $r->{bound})" : '')
          . ($r->{note} ? ": $r->{note}" : '') . "\n";
}

printf "\ncheck-faults: %d figures, %d failed, %d known defects, %.1f s%s\n",
       scalar @rows, $failed, $known, $total,
       $ENV{FAULTS_KEEP} ? " (kept: $tmp)" : '';

exit($failed ? 1 : 0);


sub record {
    my ($scenario, $name, $value, $bound, $verdict) = @_;
    open my $fh, '>>', $results or die "$results: $!";
    print $fh $JSON->encode({ scenario => $scenario, name => $name,
                              value => $value, unit => '', bound => $bound,
                              verdict => $verdict, note => '' }), "\n";
    close $fh;
}
