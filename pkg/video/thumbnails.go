package video

// Thumbnails are a video's still pictures, made by the encoder from the
// source and the smallest rendition. Making them is best effort: a video
// whose pictures could not be made is published without them (nil, or
// without a storyboard), and audio-only videos have none.
type Thumbnails struct {
	// Poster: PosterName exists (one frame from about a tenth of the way in).
	Poster bool `json:"poster"`
	// The storyboard: ThumbnailsName, a WebVTT track with one cue per
	// thumbnail ("sprite_K.jpg#xywh=x,y,w,h"), and Sprites sheets of at most
	// 10x10 thumbnails. Count is 0 when there is no storyboard.
	Interval int `json:"interval,omitempty"` // seconds between thumbnails
	Count    int `json:"count,omitempty"`
	Sprites  int `json:"sprites,omitempty"`
	Width    int `json:"width,omitempty"` // of one thumbnail, pixels
	Height   int `json:"height,omitempty"`
}

// HasPoster reports whether t says there is a poster (t may be nil).
func (t *Thumbnails) HasPoster() bool { return t != nil && t.Poster }

// HasStoryboard reports whether t says there is a storyboard (t may be nil).
func (t *Thumbnails) HasStoryboard() bool { return t != nil && t.Count > 0 && t.Sprites > 0 }

// StoryboardSheet is what the encoder made of one chunk's storyboard
// thumbnails (at layout.StoryboardManifestKey): the sheet layout.SpriteName(chunk), whose
// thumbnails are numbers First to First+Count-1, Columns to a row.
type StoryboardSheet struct {
	Name     string `json:"name"`
	First    int    `json:"first"`
	Count    int    `json:"count"`
	Columns  int    `json:"columns"`
	Interval int    `json:"interval"` // seconds between thumbnails
	Width    int    `json:"width"`    // of one thumbnail
	Height   int    `json:"height"`
}
