# 005_notify.pl: one NOTIFY signicat_status per transition, with its JSON payload.
#
# A separate session LISTENs on signicat_status while the worker follows 30 processes (20 end
# accepted, 10 rejected). Each transition must come as exactly one notification whose payload
# (watch_id, seq, final: nothing more, since any role that can connect may LISTEN) names its
# history row.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time usleep);

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 3 });

my $node = new_node('notify');
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

my $listener = $node->background_psql('postgres', timeout => 120);
$listener->query_safe('LISTEN signicat_status');

# psql prints a notification after the next command it runs:
#   Asynchronous notification "signicat_status" with payload "{...}" received from server process with PID N.
my @notes;
my $collect = sub {
	my $out = $listener->query_safe('SELECT 1');
	for my $line (split /\n/, $out)
	{
		next unless $line =~ /^Asynchronous notification "signicat_status" with payload "(.*)" received from server process with PID (\d+)\.$/;
		push @notes, { payload => dec_json($1), pid => $2 };
	}
	return scalar @notes;
};

my ($d_acc) = seed_and_watch($node, 20, 'order-a');
my ($d_rej) = seed_and_watch($node, 10, 'order-b mock-final=rejected');

wait_query($node, 'every item is done', 60,
	q{SELECT count(*) = 30 FROM signicat.watch WHERE state = 'done'});
# everything is committed: the notifications are sent; give them a moment to arrive
wait_until('60 notifications arrived', 20, sub { $collect->() >= 60 });
usleep(300_000);
$collect->();
$listener->quit;

check_history($node, items => 30,
	final => { $d_acc => 'accepted', $d_rej => 'rejected' },
	paths => [ 'NULL>processing>accepted', 'NULL>processing>rejected' ]);

my $history = query($node, q{SELECT count(*) FROM signicat.status_history});
is(scalar @notes, $history, "one notification per history row ($history)");

my $worker = worker_pid($node);
is(scalar(grep { $_->{pid} != $worker } @notes), 0, 'every notification came from the worker');

my @fields = qw(final seq watch_id);
is(scalar(grep { my $p = $_->{payload}; ref $p ne 'HASH' || join(',', sort keys %$p) ne join(',', @fields) } @notes),
	0, 'every payload is a JSON object with exactly ' . join(', ', @fields)
	  . ' (anyone may LISTEN: the rest is read from the tables, where grants apply)');

# the payloads, as text, against the history rows
my @from_notes = sort map {
	my $p = $_->{payload};
	join('|', $p->{watch_id}, $p->{seq}, $p->{final} ? 'true' : 'false');
} @notes;
my @from_history = sort split /\n/, query($node, q{
	SELECT concat_ws('|', watch_id, seq, new_status IN ('accepted', 'rejected'))
	FROM signicat.status_history});
s/\|t$/|true/, s/\|f$/|false/ for @from_history;
is_deeply(\@from_notes, \@from_history,
	'the notifications are exactly the history rows (watch_id, seq, final)');

# what a listener does with one: read the change from the history
my %item_of = map { split /\|/ } split /\n/, query($node,
	q{SELECT watch_id || '|' || item_id FROM signicat.status_history});
my %per_item;
$per_item{ $item_of{ $_->{payload}{watch_id} } }++ for @notes;
is(scalar(grep { $per_item{$_} != 2 } keys %per_item), 0, 'two notifications for each item');
is(scalar(keys %per_item), 30, 'notifications for all 30 items');
check_no_crash($node, $log0);

done_testing();
