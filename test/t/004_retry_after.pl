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
use Time::HiRes qw(time usleep);

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 2 });
mock('POST', '/__mock/faults',
	{ operation => 'assure_get_process', status => 429, retry_after => '3', count => 1 });

my $node = new_node('retry_after');
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

# The mock's log has no timestamps: sample the number of logged GETs of the item every 25 ms
# and note when it changes. Each sample is taken within ~25 ms (plus one request to the mock)
# of the change it sees.
my ($dossier, $pids) = seed_and_watch($node, 1);
my $item = $pids->[0];
my $gets = sub {
	scalar grep { $_->{path} =~ /\Q$item\E/ }
	  @{ mock('GET', '/__mock/requests?operation=assure_get_process') };
};
my %seen_at;    # number of GETs => when it was first seen
my $sample = sub {
	my $n = $gets->();
	$seen_at{$n} //= time;
	return $n;
};
# sample_until(N, TIMEOUT_S): sample until N GETs are logged; true if they are in time
my $sample_until = sub {
	my ($want, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		return 1 if $sample->() >= $want;
		usleep(25_000);
	}
	return 0;
};

ok($sample_until->(1, 20), 'the first GET (answered 429) came');
wait_query($node, 'the 429 is recorded', 20,
	q{SELECT errors = 1 AND last_error LIKE 'HTTP 429%' FROM signicat.watch});
my ($err, $gap, $state) = split /\|/, query($node, q{
	SELECT last_error, extract(epoch FROM next_poll_at - last_polled_at), state
	FROM signicat.watch});
like($err, qr/^HTTP 429/, "the item recorded the 429 ($err)");
cmp_ok($gap, '>=', 3, "next_poll_at is at least 3 s after last_polled_at ($gap s)");
is($state, 'active', 'the item stays active');

ok($sample_until->(2, 20), 'the item was polled again');
my $delay = $seen_at{2} - $seen_at{1};
note sprintf('the second GET was seen %.2f s after the first', $delay);
# both moments are sampled with some lag (25 ms plus a request to the mock): allow 0.15 s
cmp_ok($delay, '>=', 3 - 0.15, 'the next GET came no sooner than Retry-After (3 s)');
cmp_ok($delay, '<', 3 + 2.5, 'and not much later either');
is($seen_at{2} && scalar(grep { $_ == 1 } keys %seen_at), 1, 'exactly one GET before that');

wait_query($node, 'the item is done', 20,
	q{SELECT state = 'done' FROM signicat.watch});
check_history($node, items => 1, final => 'accepted');
is(query($node, q{SELECT polls || ' ' || errors FROM signicat.watch}), '2 0',
	'two answered polls (processing, accepted) after the 429, the error count reset');
is($gets->(), 3, 'the mock saw three GETs of the item');
check_no_crash($node, $log0);

done_testing();
