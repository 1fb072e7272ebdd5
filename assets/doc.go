// Package assets holds the console's html/template views and its static
// files (CSS, JavaScript, icons), embedded in the binary: the appliance may
// have no internet, so nothing is fetched from a CDN and no external font is
// used.
//
// Layout:
//
//	views/layout.html   the page frame: header, navigation, flash message;
//	                    it calls {{template "content" .}}
//	views/<name>.html   one page; defines "content" (and optionally "title")
//	static/*            served by webui under content-hash URLs
//
// The Content-Security-Policy of the console allows no inline script and no
// inline style: views use classes from static/app.css and behaviour from
// static/app.js only (data-* attributes), never style= or on*= attributes.
package assets

import "embed"

// Views are the html/template files, parsed once at start by webui.
//
//go:embed views/*.html
var Views embed.FS

// Static are the files served under /static/ with content-hash names.
//
//go:embed static/*
var Static embed.FS
