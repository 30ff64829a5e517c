package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/png"
)

// pngSize reads a PNG's pixel size for the page's width and height
// attributes (the layout does not jump while images load).
func pngSize(b []byte) (w, h int, err error) {
	c, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, fmt.Errorf("decode png: %w", err)
	}
	return c.Width, c.Height, nil
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"thousands": thousands, "bytes": humanBytes,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>battlake report: {{.Location}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { display: block; margin: 10px 0; border: 1px solid #ddd; max-width: 100%; height: auto; }
p.note { font-size: 13px; color: #444; margin: 4px 0; }
p.missing { background: #fff4e0; border-left: 4px solid #ff9f1a; padding: 8px 12px; }
.key { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.key div { border: 1px solid #ddd; border-radius: 4px; padding: 8px 14px; }
.key b { display: block; font-size: 20px; }
tr.total td { font-weight: bold; border-top: 2px solid #999; }
</style>
</head>
<body>
<h1>battlake report</h1>
<p class="note">Lake: <code>{{.Location}}</code></p>
<div class="key">{{range .Key}}<div><b>{{index . 1}}</b>{{index . 0}}</div>{{end}}</div>
<table id="meta">
{{range .Meta}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
{{range .Sections}}
<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{if .Missing}}<p class="missing">{{.Missing}}</p>
{{end}}{{with .Img}}<img src="{{.Name}}" alt="{{.Alt}}" width="{{.W}}" height="{{.H}}">
{{end}}{{range .Imgs}}<img src="{{.Name}}" alt="{{.Alt}}" width="{{.W}}" height="{{.H}}">
{{end}}{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{if .Rows}}<table>
<tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}{{if eq .ID "volume"}}<table id="volumes">
<tr><th>table</th><th>class</th><th class="num">partitions</th><th class="num">files</th><th class="num">rows</th><th class="num">bytes</th><th class="num"></th></tr>
{{range $.Volumes}}<tr data-table="{{.Table}}"><td>{{.Table}}</td><td>{{.Class}}</td><td class="num" data-col="partitions">{{thousands .Partitions}}</td><td class="num" data-col="files">{{thousands .Files}}</td><td class="num" data-col="rows">{{thousands .Rows}}</td><td class="num" data-col="bytes">{{thousands .Bytes}}</td><td class="num">{{bytes .Bytes}}</td></tr>
{{end}}<tr class="total" data-table="total"><td>total</td><td></td><td class="num" data-col="partitions">{{thousands $.Total.Partitions}}</td><td class="num" data-col="files">{{thousands $.Total.Files}}</td><td class="num" data-col="rows">{{thousands $.Total.Rows}}</td><td class="num" data-col="bytes">{{thousands $.Total.Bytes}}</td><td class="num">{{bytes $.Total.Bytes}}</td></tr>
</table>
{{end}}</section>
{{end}}
</body>
</html>
`))
