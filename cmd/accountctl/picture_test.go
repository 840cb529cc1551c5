package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/eventlog"
)

// After five uploads and a scavenge, only the current and the previous
// picture are left in the log, $all included; a rebuild of the users read
// model still finds the current one, which the profile serves, and a
// process with no cache reads it from the log.
func TestOldPicturesGoAndARebuildStillServesThePicture(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{})
	ctx := context.Background()
	id := s.register("ada")
	var last commands.PictureResult
	for i := range 5 {
		var b bytes.Buffer
		if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 20+i, 20))); err != nil {
			t.Fatal(err)
		}
		var err error
		if last, err = s.app.Commands.SetPicture(ctx, commands.SetPicture{UserID: id, Data: b.Bytes()}, meta(id)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.app.Platform.EventStore.Store().Scavenge(ctx)
	if err != nil || res.Events < 3 {
		t.Fatalf("scavenged %+v: %v", res, err)
	}
	stored := 0
	all, err := s.app.Platform.ESDB.ReadAll(ctx, esdb.ReadAllOptions{}, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := all.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Event != nil && ev.Event.StreamID == events.PicturesStream(id) {
			stored++
		}
	}
	all.Close()
	if stored != 2 {
		t.Fatalf("%d pictures of the account in $all, want 2", stored)
	}

	served := func() bool {
		req, _ := http.NewRequest("GET", s.base+"/v1/profiles/ada/picture", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode == http.StatusOK && res.Header.Get("ETag") == `"`+last.Picture.SHA256+`"` && bytes.Equal(body, last.Picture.Data)
	}
	s.eventually("the profile serves the current picture", served)
	s.mustCtl("rebuild", "users")
	s.eventually("the rebuilt read model is live", func() bool { return s.app.Catalog.Live("users").Number == 1 })
	s.eventually("the profile serves the current picture after the rebuild", served)

	fresh, err := commands.New(commands.Config{Log: eventlog.Sealed{EventLog: eventlog.New(s.app.Platform.ESDB), Keys: s.app.Keys}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fresh.ReadPicture(ctx, id, last.User.Picture.Revision, last.Picture.SHA256)
	if err != nil || !bytes.Equal(b, last.Picture.Data) {
		t.Fatalf("read from the log: %v", err)
	}
}
