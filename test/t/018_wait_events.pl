# 018_wait_events.pl: what a DBA sees of signicat in pg_stat_activity and pg_get_loaded_modules.
#
# A backend waiting for Signicat's answer, a backend pausing before a retry and the worker between
# rounds each show wait_event_type 'Extension'; from PostgreSQL 17 on (custom wait events) the
# wait_event names what they wait for: SignicatHttp, SignicatRetryDelay, SignicatNaptime. Before 17
# it can only say 'Extension'. On 18 the library names itself and its version in
# pg_get_loaded_modules() (PG_MODULE_MAGIC_EXT).

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use JSON::PP;
use SignicatTest;
use Test::More;

start_mock();
my $node = new_node('waits', <<'EOC');
signicat.timeout = '60s'
signicat.max_retries = 1
EOC
my $log0 = log_offset($node);
my $major = int($node->safe_psql('postgres', 'SHOW server_version_num') / 10000);
my $named = $major >= 17;
note "PostgreSQL $major: " . ($named ? 'named wait events' : "wait events are all 'Extension'");

# a statement in a psql of its own, left running; returns the harness (its output and errors go to
# $bg_out and $bg_err)
my ($bg_out, $bg_err) = ('', '');
sub in_background
{
	my ($sql) = @_;
	($bg_out, $bg_err) = ('', '');
	return IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$bg_out, '2>', \$bg_err);
}

# wait until a backend running SQL_LIKE waits on WANT (its wait_event); returns what it showed
sub wait_event_of
{
	my ($what, $query_like, $want) = @_;
	my $seen = '';
	my %states;    # every state the backend showed, for a failure's diagnosis
	wait_until("$what shows wait_event $want", 30, sub {
		$seen = $node->safe_psql('postgres', qq{
			SELECT coalesce(wait_event_type, '') || '/' || coalesce(wait_event, '')
			FROM pg_stat_activity WHERE query LIKE '$query_like' AND pid <> pg_backend_pid()});
		$states{$seen}++;
		return $seen eq "Extension/$want";
	}) or diag("the backend showed: " . join(', ', map { "'$_' x$states{$_}" } sort keys %states)
		. "; the background call printed: $bg_out $bg_err");
	return $seen;
}

my $dossier = query($node, q{SELECT signicat.assure_create_dossier('waits') ->> 'dossierId'});

# a call of assure_get_dossier under FAULT, in a psql of its own, must show wait event NAME (on 17+;
# before, 'Extension'); then it is cancelled and the fault cleared
sub call_waits_on
{
	my ($what, $fault, $name) = @_;
	my $want = $named ? $name : 'Extension';
	mock('POST', '/__mock/faults', { operation => 'assure_get_dossier', count => -1, %$fault });
	my $h = in_background("SELECT signicat.assure_get_dossier('$dossier')");
	is(wait_event_of($what, '%assure_get_dossier%', $want), "Extension/$want", $what);
	$node->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE query LIKE '%assure_get_dossier%' AND pid <> pg_backend_pid()});
	$h->finish;
	mock('DELETE', '/__mock/faults');
}

# 1. a call waiting for an answer that does not come
call_waits_on('a call waiting for Signicat', { hang => JSON::PP::true }, 'SignicatHttp');
# 2. a call pausing before its retry (503 with Retry-After: 30)
call_waits_on('a call pausing before a retry', { status => 503, retry_after => '30' }, 'SignicatRetryDelay');

# 3. the worker between rounds
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');
my $pid = worker_pid($node);
my $seen = '';
wait_until('the worker shows its naptime', 30, sub {
	$seen = $node->safe_psql('postgres',
		"SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE pid = $pid");
	return $seen eq 'Extension/' . ($named ? 'SignicatNaptime' : 'Extension');
});
is($seen, 'Extension/' . ($named ? 'SignicatNaptime' : 'Extension'), 'the worker between rounds');

# 4. the library names itself (18)
SKIP:
{
	skip "pg_get_loaded_modules() is new in 18 (this is $major)", 1 if $major < 18;
	my $version = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions
		WHERE name = 'signicat'});
	is($node->safe_psql('postgres', q{SELECT module_name || ' ' || version FROM pg_get_loaded_modules()
		WHERE file_name = 'signicat.so'}), "signicat $version", 'pg_get_loaded_modules names signicat and its version');
}

check_no_crash($node, $log0);
done_testing();
