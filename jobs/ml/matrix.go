package ml

import (
	"fmt"
	"math"
)

// Matrix is a dense row-major matrix of float64. NaN means "missing" for the
// tree models; ±Inf is rejected by Fit.
type Matrix struct {
	Rows, Cols int
	Data       []float64 // len Rows*Cols, row i is Data[i*Cols:(i+1)*Cols]
}

// NewMatrix allocates a zero matrix.
func NewMatrix(rows, cols int) Matrix {
	return Matrix{Rows: rows, Cols: cols, Data: make([]float64, rows*cols)}
}

// MatrixFrom wraps data (not copied) as a rows×cols matrix.
func MatrixFrom(rows, cols int, data []float64) (Matrix, error) {
	m := Matrix{Rows: rows, Cols: cols, Data: data}
	if err := m.check(); err != nil {
		return Matrix{}, err
	}
	return m, nil
}

// Row returns row i as a slice sharing the matrix storage.
func (m Matrix) Row(i int) []float64 {
	return m.Data[i*m.Cols : (i+1)*m.Cols : (i+1)*m.Cols]
}

// At returns element (i, j).
func (m Matrix) At(i, j int) float64 { return m.Data[i*m.Cols+j] }

// Set sets element (i, j).
func (m Matrix) Set(i, j int, v float64) { m.Data[i*m.Cols+j] = v }

func (m Matrix) check() error {
	if m.Rows < 0 || m.Cols < 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("matrix %dx%d with %d values: %w", m.Rows, m.Cols, len(m.Data), ErrShape)
	}
	return nil
}

// checkNoInf rejects ±Inf (NaN is allowed: missing).
func (m Matrix) checkNoInf() error {
	for k, v := range m.Data {
		if math.IsInf(v, 0) {
			return fmt.Errorf("row %d col %d is %v: %w", k/m.Cols, k%m.Cols, v, ErrNonFinite)
		}
	}
	return nil
}
