// ui/ — the /ui page: the static files `npm run build:ui` builds from web/ into dist-ui/, served with
// no network needed. They hold no data: the page reads the same REST API as everyone else.
//
// May import: common (the error body). No feature: the page talks to them over HTTP.
//
// Entry point: UiModule.
