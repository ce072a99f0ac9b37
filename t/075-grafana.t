# conf-examples/grafana-upbot.json against a real scrape: the dashboard is
# JSON, each of its panels (rows' included) has a title and a query, and
# every metric name its expressions (and its variables' queries) use is a
# series upbot_metrics serves, as are the label values they match on and
# the labels they aggregate by; every family of the scrape is on the
# dashboard.  The scrape comes from an nginx with a Tencent app whose
# location is dead, a live code, a code flagged "metrics" and an event
# batch, so that every family has series.  Whether Prometheus takes each
# expression: t/073.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 17;
my $root = File::Spec->rel2abs("t/servroot-grafana");
my $dashboard = File::Spec->rel2abs('conf-examples/grafana-upbot.json');
my $modules = main_prelude();
my $master;

END {
    local $?;
    if ($master) {
        kill 'QUIT', $master;
        for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }
        kill 'KILL', $master if kill 0, $master;
    }
}

$SIG{$_} = sub { die "killed by SIG$_[0]\n" } for qw(INT TERM HUP);

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  1;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log  off;
    client_body_temp_path  $root/body;

    upbot_zone         upbot:1m;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim timeout=1s;
    upbot_codes {
        c1    static    g1  url=https://x/1 metrics;
        live  tim:prod  \@TGS#a;
    }

    server {
        listen  127.0.0.1:$port;

        location = /m {
            upbot_get_media_info;
        }

        location = /e {
            upbot_report_media_event;
            upbot_event_log  $root/logs/events.jsonl;
        }

        location = /metrics {
            upbot_metrics;
        }

        location = /_upbot/tim {
            internal;
            proxy_pass  http://127.0.0.1:1;
        }
    }
}
_EOC_

# the dashboard first: nothing else means anything if it is not JSON

my $dash = eval { decode_json(slurp($dashboard)) };
ok(ref $dash eq 'HASH', 'the dashboard is a JSON object')
    or BAIL_OUT("$dashboard: " . ($@ || 'not an object'));

like($dash->{schemaVersion} // '', qr/^\d+$/, 'it has a schemaVersion');
ok((grep { ($_->{name} // '') eq 'DS_PROMETHEUS'
           && ($_->{pluginId} // '') eq 'prometheus' }
    @{ $dash->{__inputs} || [] }),
   'a DS_PROMETHEUS input for the Prometheus datasource');

# every panel, those in rows too; rows apart
my (@panels, @rows);
my $walk;
$walk = sub {
    for my $p (@{ $_[0] || [] }) {
        if (($p->{type} // '') eq 'row') {
            push @rows, $p;
        } else {
            push @panels, $p;
        }
        $walk->($p->{panels});
    }
};
$walk->($dash->{panels});

cmp_ok(scalar(@panels), '>=', 10, scalar(@panels) . ' panels');

my @untitled = grep { !defined $_->{title} || $_->{title} !~ /\S/ }
               @panels, @rows;
is(scalar(@untitled), 0, 'each panel and row has a title')
    or diag(explain([map { $_->{id} } @untitled]));

my @queryless = grep { !grep { ($_->{expr} // '') =~ /\S/ }
                              @{ $_->{targets} || [] } } @panels;
is(scalar(@queryless), 0, 'each panel has a target with an expression')
    or diag(join ', ', map { $_->{title} // '?' } @queryless);

my %ids;
my @dup = grep { defined $_->{id} && $ids{$_->{id}}++ } @panels, @rows;
is(scalar(@dup), 0, 'panel ids are distinct');

# [where, expression] of every query: the panels' targets, the variables'
my @exprs;
for my $p (@panels) {
    push @exprs, map { ["panel \"$p->{title}\" $_->{refId}", $_->{expr}] }
                 grep { defined $_->{expr} } @{ $p->{targets} || [] };
}
for my $v (@{ $dash->{templating}{list} || [] }) {
    next unless ($v->{type} // '') eq 'query';
    my $q = ref $v->{query} ? $v->{query}{query} : $v->{query};
    push @exprs, ["variable \$$v->{name}", $q] if defined $q;
}


# a scrape in which every family has series

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

$master = wait_for_pid("$root/logs/nginx.pid");

sub media {
    my ($code) = @_;
    return post_media_info($port, '{"account_info":{"account_type":2,'
        . '"appid":"a","openid":"o"},"media_type":2,"code":"' . $code
        . '","trace_id":"t-1"}');
}

like(media('c1'), qr/"ret":0,/, 'the flagged code answered');
like(media('live'), qr/"ret":1005,/, 'the live code: its provider is dead');
like(post_events($port, '{"head":{"account_info":{"account_type":2,'
                        . '"appid":"a","openid":"o"}},"items":['
                        . '{"event_id":"1110201","code":"c1","trace_id":"t-1"},'
                        . '{"event_id":"1100102","code":"c1","trace_id":"t-1"}'
                        . ']}'),
     qr/"ret":0/, 'an event batch stored');

my $scrape = get_body($port, '/metrics');

# name => [ {label => value} of each series ]; the families by TYPE
my (%series, %families);
for my $line (split /\n/, $scrape) {
    if ($line =~ /^# TYPE (\S+) (\S+)$/) {
        $families{$1} = $2;
        next;
    }
    next if $line =~ /^#/ || $line !~ /\S/;

    my ($name, $labels) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/
        or do { fail("a sample line: $line"); next };
    my %l;
    while (($labels // '') =~ /(\w+)="((?:[^"\\]|\\.)*)"/g) {
        (my $v = $2) =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
        $l{$1} = $v;
    }
    push @{ $series{$name} }, \%l;
}

cmp_ok(scalar(keys %families), '>=', 15,
       scalar(keys %families) . ' families in the scrape');

# a histogram's series are its _bucket, _sum and _count
sub family_series {
    my ($f) = @_;
    return $families{$f} eq 'histogram'
           ? grep { $series{"${f}$_"} } qw(_bucket _sum _count)
           : grep { $series{$_} } $f;
}

my @empty = grep { family_series($_) < ($families{$_} eq 'histogram' ? 3 : 1) }
            sort keys %families;
is(scalar(@empty), 0, 'every family has series')
    or diag("no series: @empty");


# each expression against the scrape

my (%used, @unknown, @values, @bylabels);

for my $e (@exprs) {
    my ($where, $expr) = @$e;
    my @names;

    # metric names, each with its selector's matchers when it has some
    while ($expr =~ /\b(upbot_[a-z0-9_]+)\b(?:\s*\{([^}]*)\})?/g) {
        my ($name, $sel) = ($1, $2);
        push @names, $name;
        $used{$name} = 1;

        if (!$series{$name}) {
            push @unknown, "$where: $name";
            next;
        }

        while (($sel // '') =~ /(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g) {
            my ($label, $op, $value) = ($1, $2, $3);

            # Prometheus' own labels, Grafana's variables
            next if $label eq 'instance' || $label eq 'job'
                    || $value =~ /\$/;

            my $ok;
            if ($op eq '=') {
                $ok = grep { ($_->{$label} // '') eq $value }
                      @{ $series{$name} };
            } elsif ($op eq '=~') {
                $ok = grep { ($_->{$label} // '') =~ /^(?:$value)$/ }
                      @{ $series{$name} };
            } else {
                $ok = grep { exists $_->{$label} } @{ $series{$name} };
            }
            push @values, "$where: $name\{$label$op\"$value\"}" unless $ok;
        }
    }

    # the labels of by (...), without (...), ignoring (...), on (...):
    # each is a label of one of the expression's metrics
    while ($expr =~ /\b(?:by|without|ignoring|on)\s*\(([^)]*)\)/g) {
        for my $label (grep { length } split /\s*,\s*/, $1 =~ s/^\s+|\s+$//gr) {
            next if $label eq 'instance' || $label eq 'job';
            push @bylabels, "$where: $label"
                unless grep { my $n = $_;
                              grep { exists $_->{$label} } @{ $series{$n} || [] }
                            } @names;
        }
    }

    push @unknown, "$where: no upbot_ metric in $expr" unless @names;
}

cmp_ok(scalar(@exprs), '>=', 15, scalar(@exprs) . ' expressions');
is(scalar(@unknown), 0, 'every metric name of the dashboard is in the scrape')
    or diag(join "\n", @unknown);
is(scalar(@values), 0, '... every label value it matches on, too')
    or diag(join "\n", @values);
is(scalar(@bylabels), 0, '... and every label it aggregates by')
    or diag(join "\n", @bylabels);

# the other way: each family of the scrape shows on the dashboard
my @unshown = grep { my $f = $_; !grep { $used{$_} } $f, map { "$f$_" }
                     qw(_bucket _sum _count) } sort keys %families;
is(scalar(@unshown), 0, 'every family of the scrape is on the dashboard')
    or diag("not on the dashboard: @unshown");

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

my $m = $master;
kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }
undef $master;
ok(!(kill 0, $m), 'nginx stopped');

done_testing();
