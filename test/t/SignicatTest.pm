# test/t/SignicatTest.pm: shared setup for the TAP tests of the signicat background worker.
#
# Each test script does
#     use FindBin;
#     use lib $FindBin::RealBin;
#     use SignicatTest;
# and then starts its own mock Signicat server (start_mock) and its own PostgreSQL node
# (new_node), so that the scripts stay independent of each other.
#
# Provided:
#   start_mock()                 start test/mock/signicat_mock.py on a free loopback port; it is
#                                stopped when the script ends. Returns the port.
#   mock(METHOD, PATH[, BODY])   call the mock over HTTP (BODY: a Perl structure sent as JSON);
#                                dies unless 2xx; returns the decoded JSON answer (or undef).
#   new_node(NAME[, EXTRA_CONF[, INIT_OPTS...]])
#                                PostgreSQL::Test::Cluster node with signicat preloaded and
#                                pointed at the mock, started, with CREATE EXTENSION signicat
#                                (INIT_OPTS go to init, e.g. allows_streaming => 1).
#   data_summary_sql(), data_rows_sql()
#                                one-value queries describing what the extension keeps: counts
#                                per state and the highest ids; every watch, history (with its
#                                time) and synced-process row (for tests that move a database:
#                                dump and restore, pg_upgrade).
#   signicat_conf()              the postgresql.conf lines new_node appends (for nodes a test
#                                makes itself, e.g. of another PostgreSQL install).
#   seed_and_watch(NODE, COUNT[, REFERENCE])
#                                seed COUNT processing onfido processes in one dossier and enrol
#                                them with signicat.watch_add; returns (dossier id, [process ids]).
#   wait_until(DESC, TIMEOUT_S, CODE)
#                                poll CODE every 100 ms until it returns true; fails the test
#                                (and returns false) with DESC when TIMEOUT_S pass.
#   wait_query(NODE, DESC, TIMEOUT_S, SQL)
#                                wait_until the one-value query SQL answers 't' (errors, e.g.
#                                while the server restarts, count as "not yet").
#   query(NODE, SQL)             run SQL, die on error, return its output (psql -XAt).
#   worker_pid(NODE)             pid of the 'signicat worker' backend, or undef.
#   worker_of(NODE, DB)          pid of the worker of database DB (from shared memory), or undef.
#   wait_mid_round(NODE)         wait until the worker is mid-round: some items done, some not,
#                                polls in flight; dies if it never gets there.
#   check_history(NODE, %opts)   the exactly-once checks on signicat.watch/status_history
#                                (see the sub); opts: final => {dossier_id => status} or a status,
#                                paths => [ 'NULL>processing>accepted', ... ] allowed paths.
#   check_no_crash(NODE, OFFSET[, ALLOW_SIGKILL])
#                                the server log after OFFSET shows no crashed process other than
#                                one killed with signal 9 when ALLOW_SIGKILL.
#   log_offset(NODE)             current size of the server log (for wait_for_log_after).
#   log_after(NODE, OFFSET)      the server log written after OFFSET.
#   wait_for_log_after(NODE, OFFSET, REGEX, TIMEOUT_S)
#                                wait until the server log after OFFSET matches REGEX.

package SignicatTest;

use strict;
use warnings FATAL => 'all';

use Carp;
use Exporter 'import';
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use Encode ();
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(start_mock mock mock_port new_node signicat_conf data_summary_sql data_rows_sql followed_on seed_and_watch wait_until wait_query query
  interrupt_mid_round worker_of wait_mid_round
  worker_pid check_history check_no_crash log_offset log_after wait_for_log_after enc_json dec_json);

# Loopback only: never through a proxy that may be set in the environment (libcurl inside the
# server inherits this from pg_ctl, HTTP::Tiny reads it too).
$ENV{no_proxy} = join(',', '127.0.0.1,localhost,::1', ($ENV{no_proxy} ? $ENV{no_proxy} : ()));
$ENV{NO_PROXY} = $ENV{no_proxy};
delete $ENV{$_} for qw(http_proxy HTTP_PROXY all_proxy ALL_PROXY);

my $REPO = abs_path(dirname(__FILE__) . '/../..');
my $JSON = JSON::PP->new->canonical->allow_nonref;
my $HTTP = HTTP::Tiny->new(timeout => 30, keep_alive => 0, proxy => undef, http_proxy => undef);

my ($mock_run, $mock_port, $mock_dir);

sub enc_json { return $JSON->encode($_[0]); }
sub dec_json { return $JSON->decode($_[0]); }

sub mock_port { return $mock_port; }

sub start_mock
{
	croak "mock already started" if $mock_run;
	$mock_dir = PostgreSQL::Test::Utils::tempdir('mock');
	my $port_file = "$mock_dir/port";
	my $python = $ENV{PYTHON} || 'python3';
	$mock_run = IPC::Run::start(
		[ $python, "$REPO/test/mock/signicat_mock.py", '--host', '127.0.0.1',
			'--port', '0', '--port-file', $port_file ],
		'<', \undef, '>', "$mock_dir/stdout", '2>', "$mock_dir/stderr");
	my $deadline = time + 20;
	while (!-s $port_file)
	{
		if (!$mock_run->pumpable || time > $deadline)
		{
			my $err = -f "$mock_dir/stderr" ? slurp_file("$mock_dir/stderr") : '';
			die("the mock Signicat server did not start: $err");
		}
		usleep(50_000);
	}
	($mock_port) = slurp_file($port_file) =~ /(\d+)/;
	die("no port in $port_file") unless $mock_port;
	note "mock Signicat server on 127.0.0.1:$mock_port";
	mock('GET', '/__mock/health');
	return $mock_port;
}

sub stop_mock
{
	return unless $mock_run;
	eval {
		$mock_run->signal('TERM');
		my $deadline = time + 5;
		while ($mock_run->pumpable && time < $deadline)
		{
			$mock_run->pump_nb;
			usleep(50_000);
		}
		$mock_run->kill_kill(grace => 1);
		1;
	} or eval { $mock_run->kill_kill; };
	undef $mock_run;
}

END
{
	my $rc = $?;
	stop_mock();
	$? = $rc;
}

# mock(METHOD, PATH[, BODY]): one call of the mock; dies unless 2xx; decoded JSON answer.
sub mock
{
	my ($method, $path, $body) = @_;
	croak "the mock is not running" unless $mock_port;
	my %opt = (headers => { 'Content-Type' => 'application/json' });
	# JSON text as UTF-8 bytes (a body may hold any character)
	$opt{content} = Encode::encode('UTF-8', $JSON->encode($body)) if defined $body;
	my $res = $HTTP->request($method, "http://127.0.0.1:$mock_port$path", \%opt);
	croak "mock $method $path: $res->{status} $res->{reason}: " . ($res->{content} // '')
	  unless $res->{success};
	return undef unless defined $res->{content} && length $res->{content};
	return $JSON->decode(Encode::decode('UTF-8', $res->{content}));
}

# new_node(NAME[, EXTRA_CONF]): a started node with signicat preloaded and the extension created.
sub new_node
{
	my ($name, $extra, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', signicat_conf() . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION signicat');
	return $node;
}

# signicat_conf(): the postgresql.conf lines of new_node (signicat preloaded, pointed at the mock,
# its worker on database postgres with short intervals).
sub signicat_conf
{
	croak "start_mock first" unless $mock_port;
	my $url = "http://127.0.0.1:$mock_port";
	return <<"EOC";
shared_preload_libraries = 'signicat'
restart_after_crash = on
log_statement = none
signicat.base_url = '$url'
signicat.token_url = '$url/auth/open/connect/token'
signicat.client_id = 'test-client'
signicat.client_secret = 'test-secret'
signicat.worker_databases = 'postgres'
signicat.poll_interval = '200ms'
signicat.poll_max_interval = '2s'
signicat.worker_naptime = '100ms'
signicat.poll_connections = 4
signicat.poll_batch_size = 50
EOC
}

# data_summary_sql(): counts of signicat.watch per state, of history and synced rows, and the
# highest ids, as one line.
sub data_summary_sql
{
	return q{
	SELECT (SELECT count(*) FROM signicat.watch) || ' watched ('
	    || (SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
	        FROM (SELECT state, count(*) n FROM signicat.watch GROUP BY 1) s) || '), '
	    || (SELECT count(*) FROM signicat.status_history) || ' history rows, '
	    || (SELECT count(*) FROM signicat.processes) || ' synced, max ids '
	    || (SELECT max(id) FROM signicat.watch) || '/' || (SELECT max(id) FROM signicat.status_history)};
}

# followed_on($in, $open, $from): after a dump/restore or an upgrade ($from: "restored",
# "upgraded"), with the worker started: the open item $open->[0] is followed to its end, the
# dropped item $open->[1] stays dropped, and the open item's history goes on from the $from rows,
# once per change. $in runs a query in the database.
sub followed_on
{
	my ($in, $open, $from) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	wait_until("the $from open item is followed to its end", 60, sub {
		$in->(qq{SELECT state = 'done' FROM signicat.watch WHERE item_id = '$open->[0]'}) eq 't' });
	Test::More::is($in->(qq{SELECT state FROM signicat.watch WHERE item_id = '$open->[1]'}), 'dropped',
		'the dropped item stays dropped');
	Test::More::is($in->(qq{SELECT string_agg(new_status, ',' ORDER BY seq) FROM signicat.status_history h
	          JOIN signicat.watch w ON w.id = h.watch_id WHERE w.item_id = '$open->[0]'}),
		'processing,accepted', "its history goes on from the $from rows, once per change");
}

# data_rows_sql(): every watch, history (with its time) and synced-process row, one per line, in
# an order that does not depend on the database's collation.
sub data_rows_sql
{
	return q{
	SELECT string_agg(r, E'\n' ORDER BY r COLLATE "C") FROM (
	    SELECT format('w %s %s %s %s %s', id, kind, item_id, status, state) AS r FROM signicat.watch
	    UNION ALL SELECT format('h %s %s %s %s %s', watch_id, seq, old_status, new_status, changed_at)
	        FROM signicat.status_history
	    UNION ALL SELECT format('p %s %s', process_id, status) FROM signicat.processes) x};
}

# query(NODE, SQL): its output, dies on error.
sub query
{
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# seed_and_watch(NODE, COUNT[, REFERENCE]): (dossier id, [process ids]), all enrolled.
sub seed_and_watch
{
	my ($node, $count, $reference) = @_;
	my $seed = mock('POST', '/__mock/seed-processes',
		{ count => $count, status => 'processing', provider => 'onfido',
		  (defined $reference ? (externalReference => $reference) : ()) });
	my $dossier = $seed->{dossierId};
	my @pids = @{ $seed->{processIds} };
	croak "seeded " . scalar(@pids) . " processes, wanted $count" unless @pids == $count;
	my $array = join(',', map { "'$_'" } @pids);
	my $n = query($node,
		"SELECT count(signicat.watch_add('assure_process', p::uuid, '$dossier'::uuid)) "
		  . "FROM unnest(ARRAY[$array]::text[]) p");
	croak "enrolled $n of $count" unless $n == $count;
	return ($dossier, \@pids);
}

# wait_until(DESC, TIMEOUT_S, CODE): true once CODE is; else a failed test and false.
sub wait_until
{
	my ($desc, $timeout, $code) = @_;
	my $start = time;
	my $deadline = $start + $timeout;
	while (1)
	{
		my $ok = eval { $code->() };
		if ($ok)
		{
			note sprintf("waited %.1f s: %s", time - $start, $desc);
			return 1;
		}
		last if time > $deadline;
		usleep(100_000);
	}
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	fail("timed out after $timeout s waiting until $desc");
	return 0;
}

# wait_query(NODE, DESC, TIMEOUT_S, SQL): wait_until SQL answers 't' (errors are "not yet").
sub wait_query
{
	my ($node, $desc, $timeout, $sql) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $ok = wait_until($desc, $timeout, sub {
		my ($rc, $out, $err) = $node->psql('postgres', $sql);
		return $rc == 0 && $out eq 't';
	});
	diag("last state of signicat.watch:\n" . watch_summary($node)) unless $ok;
	return $ok;
}

sub watch_summary
{
	my ($node) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SELECT state, status, count(*), max(errors), max(last_error), "
		  . "min(next_poll_at - now()), max(next_poll_at - now()), "
		  . "count(*) FILTER (WHERE claimed_until IS NOT NULL) AS claimed "
		  . "FROM signicat.watch GROUP BY 1, 2 ORDER BY 1, 2");
	my ($rc2, $ws) = $node->psql('postgres', 'SELECT * FROM signicat.worker_status');
	return "$out\n$err\nworker_status: " . ($ws // '');
}

# worker_pid(NODE): pid of the signicat worker, or undef.
sub worker_pid
{
	my ($node) = @_;
	my ($rc, $out) = $node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'signicat worker'");
	return undef unless $rc == 0 && defined $out && $out =~ /^(\d+)$/;
	return $1;
}

# worker_of(NODE, DB): pid of the worker of database DB, or undef.
sub worker_of
{
	my ($node, $db) = @_;
	my $pid = query($node, "SELECT pid FROM signicat.worker_counters() WHERE database = '$db'");
	return $pid eq '' ? undef : $pid;
}

# wait_mid_round(NODE): some items done, others not, and polls in flight right now.
sub wait_mid_round
{
	my ($node) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	wait_query($node, 'the worker is mid-round with some items done', 60, q{
		SELECT (SELECT count(*) FROM signicat.watch WHERE state = 'done') > 0
		   AND (SELECT count(*) FROM signicat.watch WHERE state <> 'done') > 0
		   AND (SELECT in_flight FROM signicat.worker_status) > 0})
	  or die('the worker never got mid-round');
}

sub log_offset
{
	my ($node) = @_;
	return -s $node->logfile;
}

sub log_after
{
	my ($node, $offset) = @_;
	my $all = slurp_file($node->logfile);
	return substr($all, $offset);
}

# wait_for_log_after(NODE, OFFSET, REGEX, TIMEOUT_S)
sub wait_for_log_after
{
	my ($node, $offset, $re, $timeout) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return wait_until("server log matches $re", $timeout,
		sub { log_after($node, $offset) =~ $re });
}

# check_no_crash(NODE, OFFSET[, ALLOW_SIGKILL]): no crashed server process in the log.
sub check_no_crash
{
	my ($node, $offset, $allow_sigkill) = @_;
	my @bad = grep {
		/terminated by signal|exited with exit code [^01]|PANIC:|TRAP:/
		  && !($allow_sigkill && /terminated by signal 9:/)
	} split /\n/, log_after($node, $offset);
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(scalar(@bad), 0, 'no server process crashed')
	  or diag(join("\n", @bad));
}

# check_history(NODE, %opts): exactly one history row per transition.
#   final => 'accepted' or { dossier_id => status }: every item done with that status.
#   paths => [ 'NULL>processing>accepted', 'NULL>accepted' ]: the allowed status paths
#            (default: the first only).
#   items => N: the number of watch rows expected.
sub check_history
{
	my ($node, %opt) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;

	my $n = query($node, 'SELECT count(*) FROM signicat.watch');
	is($n, $opt{items}, "$opt{items} items are watched") if defined $opt{items};

	my %checks = (
		'seq is 1..k, contiguous, per item' => q{
			SELECT count(*) FROM (
				SELECT seq, row_number() OVER (PARTITION BY watch_id ORDER BY seq) AS rn
				FROM signicat.status_history) h
			WHERE seq <> rn},
		'old_status of each row is the previous new_status (NULL first)' => q{
			SELECT count(*) FROM (
				SELECT seq, old_status,
				       lag(new_status) OVER (PARTITION BY watch_id ORDER BY seq) AS prev
				FROM signicat.status_history) h
			WHERE old_status IS DISTINCT FROM prev},
		'no (watch_id, new_status) twice' => q{
			SELECT count(*) FROM (
				SELECT watch_id, new_status FROM signicat.status_history
				GROUP BY 1, 2 HAVING count(*) > 1) d},
		'last new_status equals watch.status, for every item' => q{
			SELECT count(*) FROM signicat.watch w
			WHERE w.status IS DISTINCT FROM (
				SELECT h.new_status FROM signicat.status_history h
				WHERE h.watch_id = w.id ORDER BY h.seq DESC LIMIT 1)},
		'history rows carry their item (kind, item_id, dossier_id)' => q{
			SELECT count(*) FROM signicat.status_history h JOIN signicat.watch w ON w.id = h.watch_id
			WHERE (h.kind, h.item_id, h.dossier_id) IS DISTINCT FROM (w.kind, w.item_id, w.dossier_id)},
		'every item is done, not claimed, without error' => q{
			SELECT count(*) FROM signicat.watch
			WHERE state <> 'done' OR claimed_until IS NOT NULL OR last_error IS NOT NULL
			   OR decided_at IS NULL},
	);
	for my $name (sort keys %checks)
	{
		my $bad = query($node, $checks{$name});
		is($bad, 0, "history: $name") or diag(history_dump($node));
	}

	# allowed paths
	my @paths = @{ $opt{paths} // ['NULL>processing>accepted'] };
	my $rows = query($node, q{
		SELECT string_agg(coalesce(old_status, 'NULL') || '>' || new_status, ' ' ORDER BY seq)
		FROM signicat.status_history GROUP BY watch_id});
	my %seen;
	for my $r (split /\n/, $rows)
	{
		# 'NULL>processing processing>accepted' -> 'NULL>processing>accepted'
		my @steps = split / /, $r;
		my $path = shift @steps;
		$path .= '>' . (split />/, $_)[1] for @steps;
		$seen{$path}++;
	}
	my %ok = map { ($_ => 1) } @paths;
	my @bad = grep { !$ok{$_} } keys %seen;
	is(scalar(@bad), 0, 'every item took an allowed status path (' . join(', ', @paths) . ')')
	  or diag(explain(\%seen));
	note('status paths: ' . join(', ', map { "$_ x$seen{$_}" } sort keys %seen));

	# final statuses
	if (defined $opt{final})
	{
		my $final = ref $opt{final} ? $opt{final} : undef;
		my $wrong;
		if ($final)
		{
			my $cases = join(' ', map { "WHEN '$_' THEN '$final->{$_}'" } sort keys %$final);
			$wrong = query($node,
				"SELECT count(*) FROM signicat.watch WHERE status IS DISTINCT FROM "
				  . "(CASE dossier_id::text $cases END)");
		}
		else
		{
			$wrong = query($node,
				"SELECT count(*) FROM signicat.watch WHERE status IS DISTINCT FROM '$opt{final}'");
		}
		is($wrong, 0, 'every item ended with the expected final status')
		  or diag(query($node,
			'SELECT dossier_id, status, count(*) FROM signicat.watch GROUP BY 1, 2 ORDER BY 1, 2'));
	}
}

sub history_dump
{
	my ($node) = @_;
	return query($node, q{
		SELECT watch_id, seq, coalesce(old_status, 'NULL'), new_status, changed_at
		FROM signicat.status_history
		WHERE watch_id IN (SELECT watch_id FROM signicat.status_history
		                   GROUP BY watch_id HAVING count(*) <> 2 LIMIT 10)
		ORDER BY watch_id, seq LIMIT 60});
}

# interrupt_mid_round($name, $what, $interrupt, $allow_sigkill): the scenario of 001 and 002.  200 processing
# processes, each final after 6 GETs, GETs slowed to 30 ms so that a round takes a while; once
# some transitions are committed and polls are in flight, $interrupt->($node, $pid) ends the
# worker ($what names it in messages).  Then a new worker must come back, the history committed
# before must survive, and every item must end accepted with one history row per transition.
sub interrupt_mid_round
{
	my ($name, $what, $interrupt, $allow_sigkill) = @_;

	start_mock();
	mock('POST', '/__mock/config', { process_polls_until_final => 6 });
	mock('POST', '/__mock/faults',
		{ operation => 'assure_get_process', delay_ms => 30, count => -1 });

	my $node = new_node($name);
	my $log0 = log_offset($node);
	my $pid;
	wait_until('the worker runs', 30, sub { $pid = worker_pid($node) })
	  or die('no signicat worker');
	note "worker pid $pid";

	seed_and_watch($node, 200);

	wait_mid_round($node);

	my $rows_before = query($node, 'SELECT count(*) FROM signicat.status_history');
	note "before $what: " . query($node, q{
		SELECT (SELECT count(*) FROM signicat.status_history) || ' history rows, '
		    || (SELECT count(*) FROM signicat.watch WHERE state = 'done') || ' done, '
		    || (SELECT count(*) FROM signicat.watch WHERE claimed_until IS NOT NULL) || ' claimed'});

	$interrupt->($node, $pid);

	my $new_pid;
	wait_until('a new worker runs', 30, sub {
		my $p = worker_pid($node);
		$new_pid = $p if defined $p && $p != $pid;
		return defined $new_pid;
	});
	ok(defined $new_pid, 'the worker came back with a new pid (' . ($new_pid // 'none') . ')');
	cmp_ok(query($node, 'SELECT count(*) FROM signicat.status_history'), '>=', $rows_before,
		"the history committed before $what survived it");

	mock('DELETE', '/__mock/faults');
	wait_query($node, 'every item is done', 60,
		q{SELECT count(*) = 200 FROM signicat.watch WHERE state = 'done'});

	# a short pause: nothing more may change once everything is done
	usleep(500_000);
	check_history($node, items => 200, final => 'accepted',
		# results lost in the interruption may make the first status seen a final one
		paths => [ 'NULL>processing>accepted', 'NULL>accepted' ]);
	is(query($node, "SELECT count(*) FROM signicat.watch WHERE status = 'accepted'"), 200,
		'all 200 final statuses are accepted');
	check_no_crash($node, $log0, $allow_sigkill);
	return $node;
}

1;
