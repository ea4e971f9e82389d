// Scatter: a small WebGL scatter plot for 100,000+ points with pan, zoom, hover, box and lasso
// selection. Falls back to a 2-D canvas where WebGL is not available (slower, same behaviour).
//
//   const plot = new Scatter(canvas, overlay, {onHover(index|-1, event), onSelect(indices, how)});
//   plot.setData(xs, ys);               // Float32Arrays in data units
//   plot.setColors(rgb);                // Uint8Array, 3 bytes a point
//   plot.setTool("box" | "lasso" | "pan");
//   plot.setSelected(indicesOrNull);    // highlight
//   plot.resetView();
"use strict";

(function () {
  const VERTEX = `
    attribute vec2 position; attribute vec3 color; attribute float selected;
    uniform vec2 scale; uniform vec2 offset; uniform float size; uniform float anySelected;
    varying vec4 vColor;
    void main() {
      gl_Position = vec4(position * scale + offset, 0.0, 1.0);
      gl_PointSize = selected > 0.5 ? size + 3.0 : size;
      float alpha = anySelected > 0.5 && selected < 0.5 ? 0.25 : 0.9;
      vColor = vec4(color, alpha);
    }`;
  const FRAGMENT = `
    precision mediump float; varying vec4 vColor;
    void main() {
      vec2 d = gl_PointCoord - vec2(0.5);
      if (dot(d, d) > 0.25) discard;
      gl_FragColor = vColor;
    }`;

  function compile(gl, type, source) {
    const shader = gl.createShader(type);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
    return shader;
  }

  function insidePolygon(x, y, poly) {
    let inside = false;
    for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      const [xi, yi] = poly[i], [xj, yj] = poly[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  class Scatter {
    constructor(canvas, overlay, handlers = {}) {
      this.canvas = canvas;
      this.overlay = overlay;
      this.handlers = handlers;
      this.tool = "box";
      this.count = 0;
      this.view = { cx: 0, cy: 0, span: 1 }; // data point at the centre, data units across the short side
      this.pointSize = 4;
      this.selectedMask = null;
      this.gl = canvas.getContext("webgl", { antialias: false, preserveDrawingBuffer: true });
      this.renderer = this.gl ? "webgl" : "canvas2d";
      if (this.gl) this._initGL();
      else this.ctx = canvas.getContext("2d");
      this._bindEvents();
      this.resize();
      new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
    }

    _initGL() {
      const gl = this.gl;
      const program = gl.createProgram();
      gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
      gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
      gl.linkProgram(program);
      if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program));
      gl.useProgram(program);
      this.program = program;
      this.buffers = { position: gl.createBuffer(), color: gl.createBuffer(), selected: gl.createBuffer() };
      this.loc = {
        position: gl.getAttribLocation(program, "position"),
        color: gl.getAttribLocation(program, "color"),
        selected: gl.getAttribLocation(program, "selected"),
        scale: gl.getUniformLocation(program, "scale"),
        offset: gl.getUniformLocation(program, "offset"),
        size: gl.getUniformLocation(program, "size"),
        anySelected: gl.getUniformLocation(program, "anySelected"),
      };
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    }

    setData(xs, ys) {
      this.xs = xs;
      this.ys = ys;
      this.count = xs.length;
      this.positions = new Float32Array(this.count * 2);
      for (let i = 0; i < this.count; i++) {
        this.positions[2 * i] = xs[i];
        this.positions[2 * i + 1] = ys[i];
      }
      this.colors = new Uint8Array(this.count * 3).fill(120);
      this.selectedFlags = new Float32Array(this.count);
      if (this.gl) {
        const gl = this.gl;
        gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.position);
        gl.bufferData(gl.ARRAY_BUFFER, this.positions, gl.STATIC_DRAW);
        this._upload("color", this.colors);
        this._upload("selected", this.selectedFlags);
      }
      this.resetView(false);
      this.draw();
    }

    _upload(name, data) {
      const gl = this.gl;
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers[name]);
      gl.bufferData(gl.ARRAY_BUFFER, data, gl.DYNAMIC_DRAW);
    }

    setColors(rgb) {
      this.colors = rgb;
      if (this.gl) this._upload("color", rgb);
      this.draw();
    }

    setSelected(indices) {
      this.selectedFlags = new Float32Array(this.count);
      this.selectedMask = indices && indices.length ? new Set(indices) : null;
      if (indices) for (const i of indices) this.selectedFlags[i] = 1;
      if (this.gl) this._upload("selected", this.selectedFlags);
      this.draw();
    }

    setTool(tool) {
      this.tool = tool;
      this.canvas.parentElement.dataset.tool = tool;
    }

    resetView(redraw = true) {
      if (!this.count) return;
      let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
      for (let i = 0; i < this.count; i++) {
        const x = this.xs[i], y = this.ys[i];
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
      const aspect = this.width / this.height || 1;
      const spanX = (maxX - minX) || 1, spanY = (maxY - minY) || 1;
      this.view = { cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, span: 1.08 * Math.max(spanY, spanX / aspect) };
      if (redraw) this.draw();
    }

    resize() {
      const ratio = window.devicePixelRatio || 1;
      const rect = this.canvas.parentElement.getBoundingClientRect();
      this.width = Math.max(1, rect.width);
      this.height = Math.max(1, rect.height);
      for (const c of [this.canvas, this.overlay]) {
        c.width = Math.round(this.width * ratio);
        c.height = Math.round(this.height * ratio);
        c.style.width = `${this.width}px`;
        c.style.height = `${this.height}px`;
      }
      this.ratio = ratio;
      this.draw();
    }

    // data -> CSS pixels of the canvas
    toScreen(x, y) {
      const unit = this.height / this.view.span;
      return [this.width / 2 + (x - this.view.cx) * unit, this.height / 2 - (y - this.view.cy) * unit];
    }

    toData(px, py) {
      const unit = this.height / this.view.span;
      return [this.view.cx + (px - this.width / 2) / unit, this.view.cy - (py - this.height / 2) / unit];
    }

    draw() {
      if (!this.count) return;
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        if (this.gl) this._drawGL();
        else this._draw2D();
        if (this.handlers.onDraw) this.handlers.onDraw(this.renderer);
      });
    }

    _drawGL() {
      const gl = this.gl, loc = this.loc;
      gl.viewport(0, 0, this.canvas.width, this.canvas.height);
      gl.clearColor(1, 1, 1, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      const sy = 2 / this.view.span, sx = sy * (this.height / this.width);
      gl.uniform2f(loc.scale, sx, sy);
      gl.uniform2f(loc.offset, -this.view.cx * sx, -this.view.cy * sy);
      gl.uniform1f(loc.size, this.pointSize * this.ratio);
      gl.uniform1f(loc.anySelected, this.selectedMask ? 1 : 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.position);
      gl.enableVertexAttribArray(loc.position);
      gl.vertexAttribPointer(loc.position, 2, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.color);
      gl.enableVertexAttribArray(loc.color);
      gl.vertexAttribPointer(loc.color, 3, gl.UNSIGNED_BYTE, true, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.selected);
      gl.enableVertexAttribArray(loc.selected);
      gl.vertexAttribPointer(loc.selected, 1, gl.FLOAT, false, 0, 0);
      gl.drawArrays(gl.POINTS, 0, this.count);
    }

    _draw2D() {
      const ctx = this.ctx, r = this.ratio, size = this.pointSize * r;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      for (let i = 0; i < this.count; i++) {
        const [px, py] = this.toScreen(this.xs[i], this.ys[i]);
        if (px < -5 || py < -5 || px > this.width + 5 || py > this.height + 5) continue;
        const on = this.selectedFlags[i] > 0.5;
        const alpha = this.selectedMask && !on ? 0.25 : 0.9;
        ctx.fillStyle = `rgba(${this.colors[3 * i]},${this.colors[3 * i + 1]},${this.colors[3 * i + 2]},${alpha})`;
        const s = on ? size + 3 * r : size;
        ctx.fillRect(px * r - s / 2, py * r - s / 2, s, s);
      }
    }

    nearest(px, py, radius = 8) {
      let best = -1, bestD = radius * radius;
      for (let i = 0; i < this.count; i++) {
        const [sx, sy] = this.toScreen(this.xs[i], this.ys[i]);
        const d = (sx - px) ** 2 + (sy - py) ** 2;
        if (d < bestD) { bestD = d; best = i; }
      }
      return best;
    }

    pointsInBox(x0, y0, x1, y1) {
      const [ax, ay] = this.toData(Math.min(x0, x1), Math.max(y0, y1));
      const [bx, by] = this.toData(Math.max(x0, x1), Math.min(y0, y1));
      const out = [];
      for (let i = 0; i < this.count; i++) {
        const x = this.xs[i], y = this.ys[i];
        if (x >= ax && x <= bx && y >= ay && y <= by) out.push(i);
      }
      return { indices: out, how: { mode: "box", x0: ax, y0: ay, x1: bx, y1: by } };
    }

    pointsInLasso(path) {
      const poly = path.map(([px, py]) => this.toData(px, py));
      let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
      for (const [x, y] of poly) {
        minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }
      const out = [];
      for (let i = 0; i < this.count; i++) {
        const x = this.xs[i], y = this.ys[i];
        if (x < minX || x > maxX || y < minY || y > maxY) continue;
        if (insidePolygon(x, y, poly)) out.push(i);
      }
      const step = Math.max(1, Math.floor(poly.length / 200)); // keep the recorded outline small
      return { indices: out, how: { mode: "lasso", polygon: poly.filter((_, k) => k % step === 0) } };
    }

    _overlay(drawing) {
      const ctx = this.overlay.getContext("2d");
      ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
      ctx.clearRect(0, 0, this.width, this.height);
      if (!drawing) return;
      ctx.strokeStyle = "#2f6fed";
      ctx.fillStyle = "rgba(47, 111, 237, 0.12)";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      if (drawing.box) {
        const [x0, y0, x1, y1] = drawing.box;
        ctx.rect(x0, y0, x1 - x0, y1 - y0);
      } else if (drawing.path) {
        drawing.path.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.closePath();
      }
      ctx.fill();
      ctx.stroke();
    }

    _bindEvents() {
      const target = this.overlay;
      const local = (e) => {
        const rect = target.getBoundingClientRect();
        return [e.clientX - rect.left, e.clientY - rect.top];
      };
      let drag = null;
      target.addEventListener("pointerdown", (e) => {
        if (e.button !== 0) return;
        target.setPointerCapture(e.pointerId);
        const [px, py] = local(e);
        drag = { tool: this.tool, start: [px, py], last: [px, py], path: [[px, py]], add: e.shiftKey };
      });
      target.addEventListener("pointermove", (e) => {
        const [px, py] = local(e);
        if (!drag) {
          if (this.hoverFrame) return;
          this.hoverFrame = requestAnimationFrame(() => {
            this.hoverFrame = null;
            if (this.handlers.onHover) this.handlers.onHover(this.nearest(px, py), px, py);
          });
          return;
        }
        if (drag.tool === "pan") {
          const unit = this.height / this.view.span;
          this.view.cx -= (px - drag.last[0]) / unit;
          this.view.cy += (py - drag.last[1]) / unit;
          drag.last = [px, py];
          this.draw();
        } else if (drag.tool === "box") {
          this._overlay({ box: [drag.start[0], drag.start[1], px, py] });
        } else {
          drag.path.push([px, py]);
          this._overlay({ path: drag.path });
        }
      });
      target.addEventListener("pointerup", (e) => {
        if (!drag) return;
        const [px, py] = local(e);
        const moved = Math.abs(px - drag.start[0]) + Math.abs(py - drag.start[1]) > 3;
        let result = null;
        if (drag.tool === "box" && moved) result = this.pointsInBox(drag.start[0], drag.start[1], px, py);
        else if (drag.tool === "lasso" && drag.path.length > 2) result = this.pointsInLasso(drag.path);
        else if (!moved && drag.tool !== "pan") {
          const i = this.nearest(px, py);
          result = { indices: i >= 0 ? [i] : [], how: { mode: "click" } };
        }
        this._overlay(null);
        if (result && this.handlers.onSelect) this.handlers.onSelect(result.indices, result.how, drag.add);
        drag = null;
      });
      target.addEventListener("wheel", (e) => {
        e.preventDefault();
        const [px, py] = local(e);
        const [dx, dy] = this.toData(px, py);
        const factor = Math.exp(e.deltaY * 0.0015);
        this.view.span *= factor;
        // keep the point under the cursor where it is
        const [nx, ny] = this.toData(px, py);
        this.view.cx += dx - nx;
        this.view.cy += dy - ny;
        this.draw();
      }, { passive: false });
      target.addEventListener("pointerleave", () => this.handlers.onHover && this.handlers.onHover(-1));
    }
  }

  window.Scatter = Scatter;
})();
