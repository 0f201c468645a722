package queue

// finishedKept is how many finished task ids TaskStatus remembers, as
// A1111's modules/progress.py keeps finished_tasks to 16.
const finishedKept = 16

// TaskInfo is what the queue knows about a task id, for A1111's
// POST /internal/progress (modules/progress.py progressapi). The queue
// answers active, queued and completed, and the queue position behind
// textinfo "In queue: {QueuePosition}/{QueueLength}" ("Waiting..." when the
// task is neither active nor queued). progress, eta, live_preview,
// id_live_preview and the running job's textinfo come from processing.State,
// not from here; A1111 leaves them null (id_live_preview -1) when the task is
// not active.
type TaskInfo struct {
	// Active reports that the task's job holds the queue (A1111 current_task).
	Active bool
	// Queued reports that the task's job waits (A1111 pending_tasks).
	Queued bool
	// Completed reports that the task's job ran and returned, with or
	// without an error, among the last 16 tasks that did (A1111
	// finished_tasks). A job dropped before running is not completed.
	Completed bool
	// QueuePosition is 1 for the next job to run, 2 for the one after, and
	// so on; 0 when not queued. It counts every waiting job, with a task id
	// or not.
	QueuePosition int
	// QueueLength is the number of waiting jobs when Queued, 0 otherwise.
	QueueLength int
}

// TaskStatus reports what the queue knows about the task id given to DoTask.
// The three flags are computed independently, as A1111 does, so an id reused
// by force_task_id may be both completed and queued. The empty id is never
// known. TaskStatus never waits for the running job.
func (q *Queue) TaskStatus(taskID string) TaskInfo {
	var ti TaskInfo
	if taskID == "" {
		return ti
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ti.Active = q.running != nil && q.running.task == taskID
	for i, w := range q.waiting {
		if w.task == taskID {
			ti.Queued = true
			ti.QueuePosition = i + 1
			ti.QueueLength = len(q.waiting)
			break
		}
	}
	for _, id := range q.finished {
		if id == taskID {
			ti.Completed = true
			break
		}
	}
	return ti
}

// recordFinished remembers a task whose job ran. q.mu must be held.
func (q *Queue) recordFinished(taskID string) {
	if taskID == "" {
		return
	}
	if len(q.finished) == finishedKept {
		copy(q.finished, q.finished[1:])
		q.finished = q.finished[:finishedKept-1]
	}
	q.finished = append(q.finished, taskID)
}
