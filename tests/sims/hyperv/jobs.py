"""Asynchronous WMI jobs (Msvm_ConcreteJob) and the one thread that moves them along.

A Hyper-V method that takes time answers ReturnValue 4096 and a reference to an
Msvm_ConcreteJob; the client polls the job.  Here a job lives `duration` seconds: JobState 3
(Starting) for the first tenth, then 4 (Running) with PercentComplete rising, then 7
(Completed, PercentComplete 100) after its `apply` callback changed the world, or
10 (Exception) with ErrorCode/ErrorDescription when it fails (an injected failure, or the
callback raising JobFailure).  Finished jobs stay queryable for `retention` seconds, as
Hyper-V keeps them for a while.

All state is guarded by the world's lock (`World.lock`); the ticker takes it each step.
"""

import threading
import time
import uuid

JOB_NEW, JOB_STARTING, JOB_RUNNING = 2, 3, 4
JOB_COMPLETED, JOB_TERMINATED, JOB_KILLED, JOB_EXCEPTION = 7, 8, 9, 10


class JobFailure(Exception):
    def __init__(self, description, code=32768):
        super().__init__(description)
        self.description = description
        self.code = code


class Job:
    def __init__(self, host, kind, description, duration, apply, affected=None,
                 fail=None, on_fail=None):
        self.id = str(uuid.uuid4()).upper()
        self.host = host
        self.kind = kind                  # our label, e.g. "start"
        self.description = description    # Msvm_ConcreteJob.Description / ElementName
        self.duration = duration
        self.apply = apply                # callable run under the lock at completion
        self.on_fail = on_fail            # callable run under the lock on failure
        self.affected = affected          # VM GUID, for Msvm_AffectedJobElement
        self.fail = fail                  # (description, code) to force JobState 10
        self.submitted = time.time()
        self.state = JOB_STARTING
        self.percent = 0
        self.error_code = 0
        self.error_description = None
        self.finished_at = None
        self.hidden = False               # internal timer, not an Msvm_ConcreteJob

    def to_dict(self):
        return {"id": self.id, "host": self.host, "kind": self.kind, "state": self.state,
                "percent": self.percent, "error_code": self.error_code,
                "error_description": self.error_description}


class JobEngine:
    def __init__(self, world, tick=0.02, retention=300.0):
        self.world = world
        self.tick = tick
        self.retention = retention
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self):
        while not self._stop.wait(self.tick):
            with self.world.lock:
                self.step(time.time())

    def step(self, now):
        for host in list(self.world.hosts.values()):
            for job in list(host.jobs.values()):
                if job.finished_at is not None:
                    if now - job.finished_at > self.retention:
                        del host.jobs[job.id]
                    continue
                frac = (now - job.submitted) / job.duration if job.duration > 0 else 1.0
                if frac < 0.1:
                    job.state, job.percent = JOB_STARTING, 0
                elif frac < 1.0:
                    job.state, job.percent = JOB_RUNNING, min(99, int(frac * 100))
                else:
                    self._finish(job, now)

    def _finish(self, job, now):
        job.finished_at = now
        try:
            if job.fail:
                raise JobFailure(*job.fail)
            job.apply()
            job.state, job.percent = JOB_COMPLETED, 100
        except JobFailure as e:
            job.state = JOB_EXCEPTION
            job.error_code = e.code
            job.error_description = e.description
            if job.on_fail:
                job.on_fail()
        self.world.changed()
