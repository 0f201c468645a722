package queue_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sdapi/sdapi/processing/queue"
)

func ExampleQueue_DoTask() {
	q := queue.New(8) // one job runs, up to 8 wait, the 9th waiter gets ErrQueueFull
	defer q.Close(context.Background())

	err := q.DoTask(context.Background(), "task(txt2img-ABC1234)", "txt2img", func(ctx context.Context) error {
		// Generate here, honouring ctx: it is cancelled when the client goes away.
		return nil
	})
	fmt.Println(err, q.TaskStatus("task(txt2img-ABC1234)").Completed)

	err = q.Do(context.Background(), "broken", func(ctx context.Context) error { panic("bug") })
	fmt.Println(errors.Is(err, queue.ErrJobPanicked))
	// Output:
	// <nil> true
	// true
}
