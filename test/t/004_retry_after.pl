# 004_retry_after.pl: the worker honours Retry-After on a 429.
#
# One processing process; its first GET is answered 429 with Retry-After: 3. The item must
# record the error and not be polled again for 3 seconds (checked both in signicat.watch and by
# timing the GETs that reach the mock), and must then end accepted.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 2 });
mock('POST', '/__mock/faults',
	{ operation => 'assure_get_process', status => 429, retry_after => '3', count => 1 });

my $node = new_node('retry_after');
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

# The mock logs when each request arrived (received_at): the GETs of the item are timed by it,
# so the test's own speed does not enter the figures.
my ($dossier, $pids) = seed_and_watch($node, 1);
my $item = $pids->[0];
my $gets = sub {
	[ map { $_->{received_at} } grep { $_->{path} =~ /\Q$item\E/ }
	  @{ mock('GET', '/__mock/requests?operation=assure_get_process') } ];
};

ok(wait_until('the first GET (answered 429) came', 60, sub { @{ $gets->() } >= 1 }),
	'the first GET (answered 429) came');
wait_query($node, 'the 429 is recorded', 60,
	q{SELECT errors = 1 AND last_error LIKE 'HTTP 429%' FROM signicat.watch});
my ($err, $gap, $state) = split /\|/, query($node, q{
	SELECT last_error, extract(epoch FROM next_poll_at - last_polled_at), state
	FROM signicat.watch});
like($err, qr/^HTTP 429/, "the item recorded the 429 ($err)");
cmp_ok($gap, '>=', 3, "next_poll_at is at least 3 s after last_polled_at ($gap s)");
is($state, 'active', 'the item stays active');

my $times;
ok(wait_until('the item was polled again', 60, sub { @{ $times = $gets->() } >= 2 }),
	'the item was polled again');
my $delay = $times->[1] - $times->[0];
note sprintf('the second GET arrived %.3f s after the first', $delay);
# the first GET arrived before its answer was sent: the wait starts a little after it
cmp_ok($delay, '>=', 3, 'the next GET came no sooner than Retry-After (3 s)');
# (a worker that lost the item, or slept past it, never comes back or takes minutes)
cmp_ok($delay, '<', 3 + 30, 'and it did come back afterwards');

wait_query($node, 'the item is done', 60,
	q{SELECT state = 'done' FROM signicat.watch});
check_history($node, items => 1, final => 'accepted');
is(query($node, q{SELECT polls || ' ' || errors FROM signicat.watch}), '2 0',
	'two answered polls (processing, accepted) after the 429, the error count reset');
is(scalar @{ $gets->() }, 3, 'the mock saw three GETs of the item');
check_no_crash($node, $log0);

done_testing();
